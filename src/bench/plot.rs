//! `--plot FILE.png|FILE.svg`: throughput and latency over time, one colour per workload.

use std::path::Path;

use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::report::Outcome;

/// Fonts tried for the labels, first found wins (`CNX_BENCH_FONT` names another).
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
];

const COLORS: [RGBColor; 7] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

fn load_font() -> Result<(), String> {
    let named = std::env::var("CNX_BENCH_FONT").ok();
    let path = named
        .iter()
        .map(String::as_str)
        .chain(FONTS.iter().copied())
        .find(|p| Path::new(p).exists())
        .ok_or("--plot needs a TrueType font: install fonts-dejavu-core or set CNX_BENCH_FONT")?;
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    // The font registry keeps fonts for the life of the process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("{path}: not a font plotters can read"))
}

/// One point per time window of a workload: (seconds since the run began, value).
struct Series {
    name: &'static str,
    throughput: Vec<(f64, f64)>,
    p50: Vec<(f64, f64)>,
    p99: Vec<(f64, f64)>,
}

fn series(o: &Outcome, by_bytes: bool) -> Series {
    let window_us = ((o.secs / 40.0).max(0.01) * 1e6) as u64;
    let windows = (o.secs * 1e6 / window_us as f64).ceil().max(1.0) as usize;
    let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); windows];
    for &(at, lat) in &o.samples {
        let w = ((at / window_us) as usize).min(windows - 1);
        buckets[w].push(lat);
    }
    let per_op = if by_bytes {
        o.size as f64 / (1024.0 * 1024.0)
    } else {
        1.0
    };
    let mut s = Series {
        name: o.workload.name(),
        throughput: Vec::new(),
        p50: Vec::new(),
        p99: Vec::new(),
    };
    for (w, mut lats) in buckets.into_iter().enumerate() {
        let from = w as f64 * window_us as f64 / 1e6;
        // The last window is cut short by the workload's end.
        let span = (o.secs - from).min(window_us as f64 / 1e6).max(1e-6);
        let x = o.began_at + from + span / 2.0;
        s.throughput.push((x, lats.len() as f64 * per_op / span));
        if lats.is_empty() {
            continue;
        }
        lats.sort_unstable();
        let at = |p: f64| f64::from(lats[((lats.len() - 1) as f64 * p).round() as usize]) / 1000.0;
        s.p50.push((x, at(0.5).max(0.001)));
        s.p99.push((x, at(0.99).max(0.001)));
    }
    s
}

/// A chart area with the look both panels share.
fn panel<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: String,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70);
    b
}

fn label_axes<DB: DrawingBackend, Y: Ranged<ValueType = f64> + ValueFormatter<f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    y_desc: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc(y_desc)
        .draw()
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    outcomes: &[Outcome],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let size = outcomes.first().map_or(0, |o| o.size);
    // One run has one object size: MiB/s says more than ops/s from 1 MiB up.
    let by_bytes = size >= 1 << 20;
    let all: Vec<Series> = outcomes
        .iter()
        .filter(|o| !by_bytes || o.bytes > 0)
        .map(|o| series(o, by_bytes))
        .collect();
    let x_end = outcomes
        .iter()
        .map(|o| o.began_at + o.secs)
        .fold(0.1, f64::max);
    let y_top = all
        .iter()
        .flat_map(|s| s.throughput.iter().map(|p| p.1))
        .fold(1.0, f64::max)
        * 1.1;
    let lat_points = || {
        all.iter()
            .flat_map(|s| s.p50.iter().chain(&s.p99).map(|p| p.1))
    };
    let lat_top = lat_points().fold(1.0, f64::max) * 1.5;
    let lat_bottom = lat_points().fold(lat_top, f64::min).max(0.001) / 1.5;

    let (upper, lower) = root.split_vertically(400);
    let unit = if by_bytes { "MiB/s" } else { "ops/s" };
    let mut chart = panel(
        &upper,
        format!(
            "throughput ({unit}), objects of {}",
            super::report::size_text(size)
        ),
    )
    .build_cartesian_2d(0f64..x_end, 0f64..y_top)
    .map_err(err)?;
    label_axes(&mut chart, unit).map_err(err)?;
    for (i, s) in all.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(
                // Points as well as lines: a workload shorter than a window is one point.
                LineSeries::new(s.throughput.iter().copied(), color.stroke_width(2)).point_size(2),
            )
            .map_err(err)?
            .label(s.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;

    let mut chart = panel(
        &lower,
        "latency (ms, log scale): p50 solid, p99 thin".into(),
    )
    .build_cartesian_2d(0f64..x_end, (lat_bottom..lat_top).log_scale())
    .map_err(err)?;
    label_axes(&mut chart, "ms").map_err(err)?;
    for (i, s) in all.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(
                LineSeries::new(s.p50.iter().copied(), color.stroke_width(2)).point_size(2),
            )
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                s.p99.iter().copied(),
                color.mix(0.6).stroke_width(1),
            ))
            .map_err(err)?;
    }
    root.present().map_err(err)
}

/// Draws the run into `path`: PNG unless the name ends in `.svg`.
pub fn plot(path: &Path, outcomes: &[Outcome]) -> Result<(), String> {
    load_font()?;
    let dims = (1200, 800);
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"))
    {
        draw(SVGBackend::new(path, dims).into_drawing_area(), outcomes)
    } else {
        draw(BitMapBackend::new(path, dims).into_drawing_area(), outcomes)
    }
}
