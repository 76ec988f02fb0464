//! The latency chart: one side's distribution as an inline SVG bar chart,
//! laid out here and drawn by the template (numbers only, no captured text).

use crate::report::LatencyStats;

/// Chart size in SVG user units.
pub const WIDTH: f64 = 560.0;
pub const HEIGHT: f64 = 150.0;
/// Room under the bars for the axis labels.
const AXIS: f64 = 18.0;

/// One bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    /// `≤ 0.128 ms: 1234 calls`
    pub title: String,
}

/// An axis label.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub x: String,
    pub text: String,
}

/// One side's chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub side: &'static str,
    pub bars: Vec<Bar>,
    pub ticks: Vec<Tick>,
    pub calls: u64,
    /// The tallest bar's calls, printed on the y axis.
    pub peak: u64,
}

fn ms(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.1} s", value / 1000.0)
    } else if value >= 1.0 {
        format!("{value:.0} ms")
    } else {
        format!("{:.0} µs", value * 1000.0)
    }
}

/// Lays out `stats.distribution` (log2 latency buckets) as bars of equal
/// width; heights are linear in calls.
pub fn chart(side: &'static str, stats: &LatencyStats) -> Chart {
    let buckets = &stats.distribution;
    let peak = buckets.iter().map(|b| b.calls).max().unwrap_or(0);
    let n = buckets.len().max(1) as f64;
    let slot = WIDTH / n;
    let plot = HEIGHT - AXIS;
    let bars = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let h = if peak == 0 {
                0.0
            } else {
                (b.calls as f64 / peak as f64 * plot).max(if b.calls > 0 { 1.0 } else { 0.0 })
            };
            Bar {
                x: format!("{:.1}", i as f64 * slot + 1.0),
                y: format!("{:.1}", plot - h),
                width: format!("{:.1}", (slot - 2.0).max(1.0)),
                height: format!("{h:.1}"),
                title: format!(
                    "≤ {}: {}",
                    ms(b.le_ms),
                    crate::util::text::counted(b.calls, "call", "calls")
                ),
            }
        })
        .collect();
    let step = (buckets.len() / 6).max(1);
    let ticks = buckets
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0)
        .map(|(i, b)| Tick {
            x: format!("{:.1}", i as f64 * slot + slot / 2.0),
            text: ms(b.le_ms),
        })
        .collect();
    Chart {
        side,
        bars,
        ticks,
        calls: stats.calls,
        peak,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::LatencyBucket;

    #[test]
    fn the_tallest_bar_fills_the_plot() {
        let stats = LatencyStats {
            calls: 11,
            distribution: vec![
                LatencyBucket {
                    le_ms: 0.001,
                    calls: 1,
                },
                LatencyBucket {
                    le_ms: 0.002,
                    calls: 10,
                },
                LatencyBucket {
                    le_ms: 0.004,
                    calls: 0,
                },
            ],
            ..Default::default()
        };
        let c = chart("legacy", &stats);
        assert_eq!(c.bars.len(), 3);
        assert_eq!(c.bars[1].height, format!("{:.1}", HEIGHT - AXIS));
        assert_eq!(c.bars[2].height, "0.0");
        assert_eq!(c.bars[0].title, "≤ 1 µs: 1 call");
        assert_eq!(c.peak, 10);
    }
}
