//! The network conditioner: latency, jitter, loss and bandwidth injected per
//! attempt inside the tool (no kernel `tc`, no proxy), so retries see it, the
//! measured response time includes it, and a seed replays it.
//!
//! Per attempt, in order: draw loss (a drop fails the attempt before any byte
//! is sent, as a transient connection error) → draw and sleep the delay
//! (`latency_ms ± jitter_ms`, never below zero) → send → pace the body read to
//! `bandwidth_kbps`. Every sleep ends early when the test stops.

use rand::Rng;
use serde::Deserialize;
use std::time::Duration;

/// A conditioner as a plan writes it (`LD_install_network_conditioner`, or a
/// task's `network` block).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionerArg {
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub latency_ms: Option<f64>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub jitter_ms: Option<f64>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub loss_rate: Option<f64>,
    pub name_filter: Option<String>,
    pub name_regex: Option<String>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub bandwidth_kbps: Option<f64>,
    pub preset: Option<Preset>,
}

/// Browser devtools' throttling profiles (latency and download bandwidth).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Preset {
    /// 2000 ms, 400 kbit/s (DevTools "3G", formerly "Slow 3G").
    #[serde(rename = "3g")]
    ThreeG,
    /// 562.5 ms, 1440 kbit/s (DevTools "Slow 4G", formerly "Fast 3G").
    #[serde(rename = "slow-4g")]
    Slow4G,
    /// 165 ms, 8100 kbit/s (DevTools "Fast 4G").
    #[serde(rename = "fast-4g")]
    Fast4G,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::ThreeG => "3g",
            Preset::Slow4G => "slow-4g",
            Preset::Fast4G => "fast-4g",
        }
    }

    /// (latency ms, bandwidth kbit/s)
    fn values(self) -> (f64, f64) {
        match self {
            Preset::ThreeG => (2000.0, 400.0),
            Preset::Slow4G => (562.5, 1440.0),
            Preset::Fast4G => (165.0, 8100.0),
        }
    }
}

/// The settings in force, as reports show them.
pub use crate::stats::ConditionerSettings as Settings;

#[derive(Debug, Clone)]
enum Filter {
    Substring(String),
    Regex(regex::Regex),
}

/// A compiled conditioner.
#[derive(Debug, Clone)]
pub struct Conditioner {
    pub settings: std::sync::Arc<Settings>,
    filter: Vec<Filter>,
}

/// What one attempt draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    pub drop: bool,
    pub delay: Duration,
}

impl Conditioner {
    /// Checks and compiles a block; problems come as (field, message).
    pub fn compile(a: &ConditionerArg) -> Result<Conditioner, Vec<(&'static str, String)>> {
        let mut p = Vec::new();
        let (preset_latency, preset_bw) = a.preset.map_or((0.0, None), |pr| {
            let (l, b) = pr.values();
            (l, Some(b))
        });
        let latency_ms = a.latency_ms.unwrap_or(preset_latency);
        let jitter_ms = a.jitter_ms.unwrap_or(0.0);
        let loss_rate = a.loss_rate.unwrap_or(0.0);
        let bandwidth_kbps = a.bandwidth_kbps.or(preset_bw);
        for (field, v) in [("latency_ms", latency_ms), ("jitter_ms", jitter_ms)] {
            if !crate::units::valid_seconds(v / 1000.0) {
                p.push((
                    field,
                    format!("{field} must be a number of milliseconds from 0 to 1e12, found {v}"),
                ));
            }
        }
        if !(0.0..=1.0).contains(&loss_rate) {
            p.push((
                "loss_rate",
                format!("loss_rate must be a fraction from 0 to 1, found {loss_rate}"),
            ));
        }
        if let Some(b) = bandwidth_kbps {
            if !(b > 0.0 && b.is_finite()) {
                p.push((
                    "bandwidth_kbps",
                    format!("bandwidth_kbps must be a positive number, found {b}"),
                ));
            }
        }
        // A plain substring, as in LoadDensity (`"/api/"` is not a regex);
        // a regular expression only through `name_regex`. With both, a task
        // must pass both.
        let mut filter = Vec::new();
        if let Some(f) = a.name_filter.as_deref().filter(|f| !f.is_empty()) {
            filter.push(Filter::Substring(f.to_string()));
        }
        if let Some(r) = a.name_regex.as_deref().filter(|r| !r.is_empty()) {
            match regex::Regex::new(r) {
                Ok(r) => filter.push(Filter::Regex(r)),
                Err(e) => p.push((
                    "name_regex",
                    format!("invalid regular expression {r:?}: {e}"),
                )),
            }
        }
        if !p.is_empty() {
            return Err(p);
        }
        Ok(Conditioner {
            settings: std::sync::Arc::new(Settings {
                latency_ms,
                jitter_ms,
                loss_rate,
                bandwidth_kbps,
                name_filter: a.name_filter.clone().filter(|f| !f.is_empty()),
                name_regex: a.name_regex.clone().filter(|f| !f.is_empty()),
                preset: a.preset.map(|p| p.name().to_string()),
            }),
            filter,
        })
    }

    /// Whether a task is conditioned: its name or its resolved URL contains
    /// `name_filter` and matches `name_regex` (those given). No filter: every task.
    pub fn matches(&self, name: &str, url: &str) -> bool {
        self.filter.iter().all(|f| match f {
            Filter::Substring(f) => name.contains(f.as_str()) || url.contains(f.as_str()),
            Filter::Regex(r) => r.is_match(name) || r.is_match(url),
        })
    }

    /// The draws of one attempt. Always two draws, so the pattern depends only
    /// on the attempt's position in the user's sequence.
    pub fn draw(&self, rng: &mut impl Rng) -> Draw {
        let loss: f64 = rng.random();
        let spread: f64 = rng.random_range(-1.0..=1.0);
        let s = &self.settings;
        let ms = (s.latency_ms + spread * s.jitter_ms).max(0.0);
        Draw {
            drop: loss < s.loss_rate,
            delay: crate::units::secs(ms / 1000.0),
        }
    }

    /// How long reading `bytes` takes at `bandwidth_kbps` (zero without it).
    pub fn pace(&self, bytes: u64) -> Duration {
        match self.settings.bandwidth_kbps {
            Some(kbps) => crate::units::secs(bytes as f64 * 8.0 / (kbps * 1000.0)),
            None => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn c(a: ConditionerArg) -> Conditioner {
        Conditioner::compile(&a).unwrap()
    }

    #[test]
    fn draws_respect_the_settings() {
        let k = c(ConditionerArg {
            latency_ms: Some(100.0),
            jitter_ms: Some(20.0),
            loss_rate: Some(0.3),
            ..Default::default()
        });
        let mut rng = SmallRng::seed_from_u64(7);
        let n = 20_000;
        let mut drops = 0;
        for _ in 0..n {
            let d = k.draw(&mut rng);
            drops += usize::from(d.drop);
            let ms = d.delay.as_secs_f64() * 1000.0;
            assert!((80.0 - 1e-9..=120.0 + 1e-9).contains(&ms), "{ms}");
        }
        // Binomial(20000, 0.3): sd ≈ 65; allow 5 sd.
        assert!((drops as f64 - 6000.0).abs() < 325.0, "{drops}");
    }

    #[test]
    fn jitter_above_latency_clamps_at_zero() {
        let k = c(ConditionerArg {
            latency_ms: Some(10.0),
            jitter_ms: Some(50.0),
            ..Default::default()
        });
        let mut rng = SmallRng::seed_from_u64(1);
        let zeros = (0..1000)
            .filter(|_| k.draw(&mut rng).delay.is_zero())
            .count();
        assert!(zeros > 300, "{zeros}");
    }

    #[test]
    fn same_seed_same_pattern() {
        let k = c(ConditionerArg {
            loss_rate: Some(0.5),
            ..Default::default()
        });
        let a: Vec<bool> = (0..64)
            .scan(SmallRng::seed_from_u64(3), |r, _| Some(k.draw(r).drop))
            .collect();
        let b: Vec<bool> = (0..64)
            .scan(SmallRng::seed_from_u64(3), |r, _| Some(k.draw(r).drop))
            .collect();
        let other: Vec<bool> = (0..64)
            .scan(SmallRng::seed_from_u64(4), |r, _| Some(k.draw(r).drop))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, other);
    }

    #[test]
    fn filters_match_names_and_resolved_urls() {
        let sub = c(ConditionerArg {
            name_filter: Some("/checkout".into()),
            ..Default::default()
        });
        assert!(sub.matches("checkout", "http://h/checkout?x=1"));
        assert!(sub.matches("/checkout", "http://h/"));
        assert!(!sub.matches("cart", "http://h/cart"));
        let slashes = c(ConditionerArg {
            name_filter: Some("/api/".into()),
            ..Default::default()
        });
        assert!(slashes.matches("x", "http://h/api/v1"));
        assert!(
            !slashes.matches("api", "http://h/apis"),
            "a substring, not a regex"
        );
        let re = c(ConditionerArg {
            name_regex: Some("^api-[0-9]+$".into()),
            ..Default::default()
        });
        assert!(re.matches("api-12", "http://h/"));
        assert!(!re.matches("api-x", "http://h/"));
        assert!(c(ConditionerArg::default()).matches("anything", ""));
    }

    #[test]
    fn presets_and_validation() {
        let k = c(ConditionerArg {
            preset: Some(Preset::Slow4G),
            ..Default::default()
        });
        assert_eq!(k.settings.latency_ms, 562.5);
        assert_eq!(k.settings.bandwidth_kbps, Some(1440.0));
        assert_eq!(k.pace(180_000), Duration::from_secs(1));
        let own = c(ConditionerArg {
            preset: Some(Preset::ThreeG),
            latency_ms: Some(5.0),
            ..Default::default()
        });
        assert_eq!(
            own.settings.latency_ms, 5.0,
            "explicit fields win over the preset"
        );
        let bad = Conditioner::compile(&ConditionerArg {
            latency_ms: Some(-1.0),
            loss_rate: Some(1.5),
            name_regex: Some("(unclosed".into()),
            bandwidth_kbps: Some(0.0),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<&str> = bad.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            vec!["latency_ms", "loss_rate", "bandwidth_kbps", "name_regex"]
        );
    }
}
