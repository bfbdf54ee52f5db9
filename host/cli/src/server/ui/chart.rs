//! The small inline SVG charts of the page: an export's hit ratio and mean
//! latency over the last ten minutes, one point per bucket.

use maud::{Markup, html};

use crate::recent::{BUCKET_SECONDS, Bucket};

const WIDTH: f64 = 180.0;
const HEIGHT: f64 = 36.0;

/// Hit ratio (green, 0 to 1) and mean latency (blue, scaled to its largest
/// bucket) per bucket: a dot per bucket with calls, joined to its
/// neighbours; buckets without calls leave gaps.
pub fn activity(buckets: &[Bucket]) -> Markup {
    let ratios: Vec<Option<f64>> = buckets.iter().map(Bucket::hit_ratio).collect();
    let slowest = buckets
        .iter()
        .filter_map(Bucket::mean_us)
        .max()
        .unwrap_or(0)
        .max(1);
    let latencies: Vec<Option<f64>> = buckets
        .iter()
        .map(|b| b.mean_us().map(|us| us as f64 / slowest as f64))
        .collect();
    let minutes = buckets.len() as u64 * BUCKET_SECONDS / 60;
    html! {
        svg class="chart" width=(WIDTH) height=(HEIGHT) viewBox={"0 0 " (WIDTH) " " (HEIGHT)}
            role="img" aria-label={"hit ratio and mean latency over the last " (minutes) " minutes"} {
            title { "hit ratio (green) and mean latency (blue, up to " (micros(slowest)) ") per " (BUCKET_SECONDS) " s, last " (minutes) " min" }
            rect x="0" y="0" width=(WIDTH) height=(HEIGHT) class="chart-frame" {}
            (series("latency", &latencies))
            (series("ratio", &ratios))
        }
    }
}

/// One series: a polyline per run of consecutive values and a dot per
/// value.
fn series(class: &str, values: &[Option<f64>]) -> Markup {
    let points = positions(values);
    html! {
        g class=(class) {
            @for run in runs(&points) {
                polyline points=(run) {}
            }
            @for (x, y) in points.iter().flatten() {
                circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="1.8" {}
            }
        }
    }
}

/// Where each value (0 to 1) is drawn, inside the frame's margins.
fn positions(values: &[Option<f64>]) -> Vec<Option<(f64, f64)>> {
    let margin = 3.0;
    let step = (WIDTH - 2.0 * margin) / (values.len().max(2) - 1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            value.map(|v| {
                let x = margin + i as f64 * step;
                (x, margin + (1.0 - v) * (HEIGHT - 2.0 * margin))
            })
        })
        .collect()
}

/// The `points` attributes of the runs of two or more consecutive points.
fn runs(points: &[Option<(f64, f64)>]) -> Vec<String> {
    points
        .split(Option::is_none)
        .filter(|run| run.len() > 1)
        .map(|run| {
            run.iter()
                .flatten()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// A latency for people: `850 µs`, `12.5 ms`, `3.2 s`.
pub fn micros(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.1} ms", us as f64 / 1e3),
        _ => format!("{:.1} s", us as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_split_the_line_and_every_value_has_a_dot() {
        let values = [Some(1.0), Some(0.0), None, Some(0.5), None];
        let points = positions(&values);
        assert_eq!(points[0], Some((3.0, 3.0)), "1.0 at the top");
        assert_eq!(points[1], Some((46.5, 33.0)), "0.0 at the bottom");
        assert_eq!(
            runs(&points),
            ["3.0,3.0 46.5,33.0"],
            "a lone value: no line"
        );
        let chart = series("ratio", &values).into_string();
        assert_eq!(chart.matches("<circle").count(), 3, "{chart}");
    }

    #[test]
    fn latencies_read_in_their_unit() {
        assert_eq!(micros(850), "850 µs");
        assert_eq!(micros(12_500), "12.5 ms");
        assert_eq!(micros(3_200_000), "3.2 s");
    }
}
