//! What a workload measured: latencies, bytes, errors, and the server's CPU and peak memory
//! read from `/proc` while it ran.

use std::time::Duration;

use serde::Serialize;

/// At most this many error messages are kept per workload (the count keeps counting).
const KEPT_ERRORS: usize = 5;

/// One worker's tally; merged into the workload's after the run.
#[derive(Default)]
pub struct Tally {
    /// (completion time since the workload began, latency), both in microseconds.
    pub samples: Vec<(u64, u32)>,
    pub bytes: u64,
    pub errors: u64,
    pub first_errors: Vec<String>,
}

impl Tally {
    pub fn ok(&mut self, done_at: Duration, latency: Duration, bytes: u64) {
        self.samples
            .push((done_at.as_micros() as u64, latency.as_micros() as u32));
        self.bytes += bytes;
    }

    pub fn failed(&mut self, message: String) {
        self.errors += 1;
        if self.first_errors.len() < KEPT_ERRORS {
            self.first_errors.push(message);
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.samples.extend(other.samples);
        self.bytes += other.bytes;
        self.errors += other.errors;
        for e in other.first_errors {
            if self.first_errors.len() < KEPT_ERRORS {
                self.first_errors.push(e);
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Percentiles of latencies in microseconds (sorted here).
pub fn latency(mut micros: Vec<u32>) -> Latency {
    micros.sort_unstable();
    let at = |p: f64| -> f64 {
        if micros.is_empty() {
            return 0.0;
        }
        let idx = ((micros.len() - 1) as f64 * p).round() as usize;
        f64::from(micros[idx]) / 1000.0
    };
    let mean = if micros.is_empty() {
        0.0
    } else {
        micros.iter().map(|&m| f64::from(m)).sum::<f64>() / micros.len() as f64 / 1000.0
    };
    Latency {
        mean_ms: mean,
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

/// CPU time of a process, from `/proc/PID/stat`, in seconds.
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let per_sec = rustix::param::clock_ticks_per_second();
    Some(ticks as f64 / per_sec as f64)
}

/// A field of `/proc/PID/status` in KiB (VmHWM, VmRSS).
fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Readings of one process around a workload.
pub struct Probe {
    pid: String,
    cpu_at_start: Option<f64>,
    /// Whether the peak RSS was reset at the start (else it is the process's lifetime peak).
    peak_reset: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProcessUse {
    pub cpu_secs: f64,
    /// Percent of one core over the workload's wall time.
    pub cpu_pct: f64,
    pub peak_rss_mib: f64,
    /// False when the peak could not be reset for the workload: the figure is the peak since
    /// the process started.
    pub peak_is_per_workload: bool,
}

impl Probe {
    /// `pid` of the process, or `self` for the load generator.
    pub fn start(pid: &str) -> Probe {
        // Writing 5 to clear_refs resets VmHWM, so each workload gets its own peak.
        let peak_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        Probe {
            pid: pid.to_owned(),
            cpu_at_start: cpu_secs(pid),
            peak_reset,
        }
    }

    pub fn finish(&self, wall: Duration) -> Option<ProcessUse> {
        let cpu = cpu_secs(&self.pid)? - self.cpu_at_start?;
        let peak = status_kib(&self.pid, "VmHWM:")?;
        Some(ProcessUse {
            cpu_secs: cpu,
            cpu_pct: 100.0 * cpu / wall.as_secs_f64().max(1e-9),
            peak_rss_mib: peak as f64 / 1024.0,
            peak_is_per_workload: self.peak_reset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_known_latencies() {
        let l = latency((1..=100).map(|ms| ms * 1000).collect());
        assert_eq!(l.p50_ms, 51.0);
        assert_eq!(l.p90_ms, 90.0);
        assert_eq!(l.p99_ms, 99.0);
        assert_eq!(l.max_ms, 100.0);
        assert_eq!(l.mean_ms, 50.5);
        assert_eq!(latency(Vec::new()).max_ms, 0.0);
    }

    #[test]
    fn this_process_can_be_probed() {
        let p = Probe::start("self");
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let used = p.finish(Duration::from_millis(10)).unwrap();
        assert!(used.peak_rss_mib > 0.0);
        assert!(used.cpu_secs >= 0.0);
    }
}
