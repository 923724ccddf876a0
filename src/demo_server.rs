//! The built-in demo target (stub until the demo branch lands).
use std::net::SocketAddr;
pub struct DemoServer {
    addr: SocketAddr,
}
impl DemoServer {
    pub fn start(_port: u16) -> std::io::Result<DemoServer> {
        unimplemented!()
    }
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn stop(self) {}
}
pub fn serve_forever(_port: u16) -> std::io::Result<()> {
    unimplemented!()
}
