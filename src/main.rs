fn main() {
    std::process::exit(loaddensity::cli::main_with(std::env::args_os()));
}
