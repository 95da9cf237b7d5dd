//! A workload's figures: the table people read and the JSON line machines read.

use serde::Serialize;

use super::stats::{Latency, ProcessUse};
use super::workload::{Kind, PayloadMode};

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Names the server in JSON lines (bench/compare sets it).
    pub label: String,
    pub workload: Kind,
    pub size: u64,
    pub concurrency: usize,
    pub payload: PayloadMode,
    pub presigned: bool,
    pub ops: u64,
    pub errors: u64,
    pub bytes: u64,
    pub secs: f64,
    pub ops_per_sec: f64,
    pub mib_per_sec: f64,
    pub latency: Latency,
    /// The server's CPU and peak RSS, when its pid was given.
    pub server: Option<ProcessUse>,
    /// The load generator's own CPU: on a shared machine it competes with the server.
    pub client: Option<ProcessUse>,
    pub first_errors: Vec<String>,
    /// When the workload began, in seconds since the first one did (for plots).
    #[serde(skip)]
    pub began_at: f64,
    /// (completion µs since the workload began, latency µs) per operation.
    #[serde(skip)]
    pub samples: Vec<(u64, u32)>,
}

/// `4096` → `4 KiB`.
pub fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v.fract() == 0.0 {
        format!("{v} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

const HEADER: [&str; 14] = [
    "workload",
    "size",
    "conc",
    "ops",
    "errors",
    "ops/s",
    "MiB/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "srv CPU%",
    "srv RSS MiB",
    "cli CPU%",
];

fn row(o: &Outcome) -> [String; 14] {
    let server_cpu = o.server.as_ref().map(|s| format!("{:.0}", s.cpu_pct));
    let server_rss = o.server.as_ref().map(|s| format!("{:.1}", s.peak_rss_mib));
    let client_cpu = o.client.as_ref().map(|s| format!("{:.0}", s.cpu_pct));
    let dash = || "-".to_owned();
    [
        o.workload.name().to_owned(),
        size_text(o.size),
        o.concurrency.to_string(),
        o.ops.to_string(),
        o.errors.to_string(),
        format!("{:.1}", o.ops_per_sec),
        format!("{:.1}", o.mib_per_sec),
        format!("{:.2}", o.latency.p50_ms),
        format!("{:.2}", o.latency.p90_ms),
        format!("{:.2}", o.latency.p99_ms),
        format!("{:.2}", o.latency.max_ms),
        server_cpu.unwrap_or_else(dash),
        server_rss.unwrap_or_else(dash),
        client_cpu.unwrap_or_else(dash),
    ]
}

/// The figures as an aligned table, one row per workload.
pub fn table(outcomes: &[Outcome]) -> String {
    let rows: Vec<[String; 14]> = outcomes.iter().map(row).collect();
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == 0 {
                s.push_str(&format!("{cell:<w$}"));
            } else {
                s.push_str(&format!("  {cell:>w$}"));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(HEADER.to_vec());
    for r in &rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    for o in outcomes {
        for e in &o.first_errors {
            out.push_str(&format!("error: {e}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_text(4096), "4 KiB");
        assert_eq!(size_text(1 << 20), "1 MiB");
        assert_eq!(size_text(1536), "1.5 KiB");
        assert_eq!(size_text(10), "10 B");
    }
}
