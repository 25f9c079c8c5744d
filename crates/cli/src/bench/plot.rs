//! `bench --plot DIR`: the run's curves as SVG, written by hand (a few lines and labels need
//! no plotting library). Every text placed in the SVG is ours or a number.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 360.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 56.0;
const BOTTOM: f64 = 50.0;

/// One curve of a chart.
pub struct Series<'a> {
    pub label: &'a str,
    pub color: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// A horizontal or vertical marker line (a target), labelled.
pub struct Marker<'a> {
    pub label: &'a str,
    /// `Some(x)` for a vertical line, else a horizontal one at `y`.
    pub x: Option<f64>,
    pub y: Option<f64>,
}

/// A line chart with axes from zero to the data's maxima (or the markers', if larger).
pub struct Chart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub series: Vec<Series<'a>>,
    pub markers: Vec<Marker<'a>>,
    /// Upper end of the x axis, when the data's own maximum is not wanted (a long tail).
    pub x_max: Option<f64>,
}

impl Chart<'_> {
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.svg()).with_context(|| format!("cannot write {}", path.display()))
    }

    fn svg(&self) -> String {
        let all = self.series.iter().flat_map(|s| s.points.iter());
        let data_x = all.clone().map(|p| p.0).fold(0.0, f64::max);
        let data_y = all.map(|p| p.1).fold(0.0, f64::max);
        let marker_x = self.markers.iter().filter_map(|m| m.x).fold(0.0, f64::max);
        let marker_y = self.markers.iter().filter_map(|m| m.y).fold(0.0, f64::max);
        let x_max = nice(self.x_max.unwrap_or(data_x.max(marker_x)).max(1e-9));
        let y_max = nice((data_y.max(marker_y) * 1.05).max(1e-9));
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let sx = |x: f64| LEFT + (x.min(x_max) / x_max) * plot_w;
        let sy = |y: f64| TOP + plot_h - (y / y_max) * plot_h;
        let mut out = String::new();
        let _ = write!(
            out,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>
"##,
            WIDTH / 2.0,
            escape(self.title)
        );
        for i in 0..=5 {
            let (x, y) = (x_max * i as f64 / 5.0, y_max * i as f64 / 5.0);
            let _ = writeln!(
                out,
                r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#ddd"/><text x="{2}" y="{3:.1}" text-anchor="end">{4}</text>"##,
                sy(y),
                WIDTH - RIGHT,
                LEFT - 6.0,
                sy(y) + 4.0,
                number(y)
            );
            let _ = writeln!(
                out,
                r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1}" stroke="#eee"/><text x="{0:.1}" y="{2}" text-anchor="middle">{3}</text>"##,
                sx(x),
                TOP + plot_h,
                TOP + plot_h + 16.0,
                number(x)
            );
        }
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>
<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"##,
            LEFT + plot_w / 2.0,
            HEIGHT - 10.0,
            escape(self.x_label),
            TOP + plot_h / 2.0,
            TOP + plot_h / 2.0,
            escape(self.y_label)
        );
        for m in &self.markers {
            let (x1, y1, x2, y2) = match (m.x, m.y) {
                (Some(x), _) => (sx(x), TOP, sx(x), TOP + plot_h),
                (None, Some(y)) => (LEFT, sy(y), WIDTH - RIGHT, sy(y)),
                (None, None) => continue,
            };
            let _ = writeln!(
                out,
                r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="#c00" stroke-dasharray="5 4"/><text x="{:.1}" y="{:.1}" fill="#c00" text-anchor="end">{}</text>"##,
                x2 - 4.0,
                y1.min(y2) + 14.0,
                escape(m.label)
            );
        }
        for (i, s) in self.series.iter().enumerate() {
            let points: Vec<String> = s
                .points
                .iter()
                .filter(|p| p.0 <= x_max)
                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                .collect();
            let color = escape(s.color);
            let _ = writeln!(
                out,
                r##"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>
<rect x="{:.1}" y="38" width="12" height="3" fill="{color}"/><text x="{:.1}" y="43">{}</text>"##,
                points.join(" "),
                LEFT + 260.0 * i as f64,
                LEFT + 16.0 + 260.0 * i as f64,
                escape(s.label)
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

/// The empirical distribution of `latencies` (sorted or not) as (ms, fraction at or below).
pub fn cdf(latencies: &[f64]) -> Vec<(f64, f64)> {
    let mut sorted = latencies.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    // At most ~500 points: enough for a smooth curve, small enough for a document.
    let step = (sorted.len() / 500).max(1);
    let mut points: Vec<(f64, f64)> = sorted
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i + 1 == sorted.len())
        .map(|(i, &ms)| (ms, (i + 1) as f64 / n))
        .collect();
    points.insert(0, (0.0, 0.0));
    points
}

/// Rates between successive (seconds, count) samples, each over at least `window` seconds.
pub fn rates(samples: &[(f64, u64)], window: f64) -> Vec<(f64, f64)> {
    let mut out = vec![];
    let mut from = match samples.first() {
        Some(&s) => s,
        None => return out,
    };
    for &(t, n) in &samples[1..] {
        if t - from.0 >= window {
            out.push((t, n.saturating_sub(from.1) as f64 / (t - from.0)));
            from = (t, n);
        }
    }
    out
}

/// A round number at or above `v`, for axis ends (five ticks of round steps).
fn nice(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&n| n >= v)
        .unwrap_or(10.0 * p)
}

fn number(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v.fract() == 0.0 || v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_escapes_its_text_and_draws_each_series() {
        let chart = Chart {
            title: "a <b> & \"c\"",
            x_label: "s",
            y_label: "n",
            series: vec![Series {
                label: "rate",
                color: "#06c",
                points: vec![(0.0, 1.0), (2.0, 3.0)],
            }],
            markers: vec![Marker {
                label: "target",
                x: None,
                y: Some(2.0),
            }],
            x_max: None,
        };
        let svg = chart.svg();
        assert!(svg.contains("a &lt;b&gt; &amp; &quot;c&quot;"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(!svg.contains("<b>"));
    }

    #[test]
    fn a_cdf_ends_at_one_and_rates_divide_by_their_window() {
        let points = cdf(&[3.0, 1.0, 2.0]);
        assert_eq!(points.first(), Some(&(0.0, 0.0)));
        assert_eq!(points.last(), Some(&(3.0, 1.0)));
        let r = rates(&[(0.0, 0), (0.5, 10), (1.0, 100), (3.0, 300)], 1.0);
        assert_eq!(r, vec![(1.0, 100.0), (3.0, 100.0)]);
    }

    #[test]
    fn axis_ends_are_round() {
        assert_eq!(nice(87.0), 100.0);
        assert_eq!(nice(113.0), 150.0);
        assert!((nice(0.31) - 0.4).abs() < 1e-9);
    }
}
