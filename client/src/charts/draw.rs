//! The hall's chart drawing, shared by every report that draws: the day
//! in charts (`hallq report`, the console's charts tab) and the staffing
//! what-if (`hallq simulate --html`). `plotters` renders each chart to an
//! SVG string on the client side, so a page needs no script from the
//! internet (a hall's network often has none) and a mailed file shows the
//! same picture everywhere.
//!
//! Text in the SVG names [`FONT`], a family list that starts with the CJK
//! fonts a hall's PCs have (Noto Sans CJK on Linux, Microsoft YaHei on
//! Windows, PingFang on a Mac): the browser that shows the page picks the
//! first it has, so item names like 不动产登记 render rather than as boxes.

use plotters::prelude::*;

/// Chart size in SVG user units (pages scale them to their width).
pub const SIZE: (u32, u32) = (720, 300);

/// The font family list every text of a chart names (see the module doc).
pub const FONT: &str = "Noto Sans CJK SC,Noto Sans SC,Source Han Sans SC,WenQuanYi Micro Hei,\
                        Microsoft YaHei,PingFang SC,sans-serif";

/// The hall's blue (the board's) for bars and lines.
pub const BLUE: RGBColor = RGBColor(0x1f, 0x5f, 0xa8);
/// A second series (open windows, served).
pub const ORANGE: RGBColor = RGBColor(0xe0, 0x8a, 0x1e);
/// Over the target.
pub const RED: RGBColor = RGBColor(0xc0, 0x27, 0x2d);
/// The fine grid lines: barely there, so the bars read first.
const LIGHT: RGBColor = RGBColor(0xf2, 0xf3, 0xf5);

/// Colours of the series of one chart (items, p50/p90), in order; told
/// apart by people with the common colour blindness (Okabe–Ito order).
const PALETTE: [RGBColor; 8] = [
    BLUE,
    ORANGE,
    RGBColor(0x2a, 0x9d, 0x6f),
    RGBColor(0x8e, 0x44, 0xad),
    RGBColor(0x56, 0xb4, 0xe9),
    RGBColor(0xcc, 0x79, 0xa7),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xd5, 0x5e, 0x00),
];

/// The `i`th series' colour.
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// One named row of values of a chart (an item's arrivals, the p90 wait).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// As the legend shows it.
    pub name: String,
    /// One value per x position.
    pub values: Vec<f64>,
}

impl Series {
    /// A series named `name`.
    pub fn new(name: impl Into<String>, values: Vec<f64>) -> Series {
        Series {
            name: name.into(),
            values,
        }
    }
}

/// Why a chart could not be drawn (plotters' error, as text: the page
/// shows it in place of the chart).
pub type DrawError = String;

fn err<E: std::fmt::Debug>(e: E) -> DrawError {
    format!("{e:?}")
}

/// An hour axis label: `09:00` at whole hours, nothing between (plotters
/// may put ticks at half hours).
pub fn hour_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{:02}:00", x.round() as u32 % 24)
    } else {
        String::new()
    }
}

/// A value axis label: `8` for a count, `2.5` between.
pub fn value_label(y: &f64) -> String {
    if (y - y.round()).abs() < 1e-6 {
        format!("{}", y.round() as i64)
    } else {
        format!("{y:.1}")
    }
}

fn font(size: u32) -> (&'static str, u32) {
    (FONT, size)
}

/// How much higher than the tallest bar the axis goes, so that a legend
/// of `rows` lines in the upper right corner stays clear of the bars: a
/// legend row takes about 16 of the plot's 190 units of height.
fn headroom(rows: usize) -> f64 {
    let legend = (rows as f64 * 16.0 + 24.0) / 190.0;
    1.0 / (1.0 - legend.clamp(0.15, 0.65))
}

/// The largest value of `series` (at least `floor`), with headroom for
/// a legend of `rows` lines.
fn top(series: &[Series], floor: f64, rows: usize) -> f64 {
    series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(floor, f64::max)
        * headroom(rows)
}

/// Bars per hour (`values[i]` for `hours[i]`), with an optional line on a
/// second axis (open windows) scaled to its own maximum: `(name, values,
/// axis description)`.
pub fn hour_bars(
    title: &str,
    hours: &[u8],
    values: &[f64],
    y_desc: &str,
    line: Option<(&str, &[f64], &str)>,
) -> Result<String, DrawError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let first = f64::from(*hours.first().unwrap_or(&9));
        let last = f64::from(*hours.last().unwrap_or(&17)) + 1.0;
        let top = values.iter().cloned().fold(1.0, f64::max) * headroom(2);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, font(20))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .right_y_label_area_size(if line.is_some() { 56 } else { 0 })
            .build_cartesian_2d(first..last, 0.0..top)
            .map_err(err)?
            .set_secondary_coord(
                first..last,
                0.0..line
                    .map(|(_, v, _)| v.iter().cloned().fold(1.0, f64::max) * headroom(2))
                    .unwrap_or(1.0),
            );
        chart
            .configure_mesh()
            .light_line_style(LIGHT)
            .disable_x_mesh()
            .x_labels(hours.len() + 1)
            .x_label_formatter(&hour_label)
            .y_desc(y_desc)
            .y_label_formatter(&value_label)
            .label_style(font(14))
            .axis_desc_style(font(14))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(hours.iter().zip(values).map(|(&h, &v)| {
                let h = f64::from(h);
                Rectangle::new([(h + 0.12, 0.0), (h + 0.88, v)], BLUE.mix(0.85).filled())
            }))
            .map_err(err)?
            .label(y_desc)
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], BLUE.filled()));
        if let Some((name, v, desc)) = line {
            chart
                .configure_secondary_axes()
                .y_desc(desc)
                .label_style(font(14))
                .axis_desc_style(font(14))
                .draw()
                .map_err(err)?;
            chart
                .draw_secondary_series(LineSeries::new(
                    hours.iter().zip(v).map(|(&h, &y)| (f64::from(h) + 0.5, y)),
                    ORANGE.stroke_width(3),
                ))
                .map_err(err)?
                .label(name)
                .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], ORANGE.stroke_width(3)));
            chart
                .draw_secondary_series(
                    hours
                        .iter()
                        .zip(v)
                        .map(|(&h, &y)| Circle::new((f64::from(h) + 0.5, y), 4, ORANGE.filled())),
                )
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font(font(14))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Side-by-side bars per hour, one per series (p50 and p90), with an
/// optional target drawn as a red line: `(value, legend)`. With a single
/// series, a bar over the target is red.
pub fn hour_groups(
    title: &str,
    hours: &[u8],
    series: &[Series],
    y_desc: &str,
    target: Option<(f64, &str)>,
) -> Result<String, DrawError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let first = f64::from(*hours.first().unwrap_or(&9));
        let last = f64::from(*hours.last().unwrap_or(&17)) + 1.0;
        let rows = series.len() + usize::from(target.is_some());
        let top = top(series, target.map_or(1.0, |(t, _)| t).max(1.0), rows);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, font(20))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(first..last, 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(LIGHT)
            .x_labels(hours.len() + 1)
            .x_label_formatter(&hour_label)
            .y_desc(y_desc)
            .y_label_formatter(&value_label)
            .label_style(font(14))
            .axis_desc_style(font(14))
            .draw()
            .map_err(err)?;
        let n = series.len().max(1) as f64;
        let width = 0.76 / n;
        for (k, s) in series.iter().enumerate() {
            let c = colour(k);
            let alone = series.len() == 1;
            chart
                .draw_series(hours.iter().zip(&s.values).map(|(&h, &y)| {
                    let x = f64::from(h) + 0.12 + width * k as f64;
                    let over = alone && target.is_some_and(|(t, _)| y > t);
                    let fill = if over { RED } else { c };
                    Rectangle::new([(x, 0.0), (x + width, y)], fill.mix(0.85).filled())
                }))
                .map_err(err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
        }
        if let Some((t, name)) = target {
            chart
                .draw_series(LineSeries::new(
                    [(first, t), (last, t)],
                    RED.stroke_width(2),
                ))
                .map_err(err)?
                .label(name)
                .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], RED.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font(font(14))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A filled line through the day: `values[i]` at hour `from + step * i`
/// (the queue every 5 minutes).
pub fn area(
    title: &str,
    from: f64,
    step: f64,
    values: &[f64],
    y_desc: &str,
) -> Result<String, DrawError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let to = from + step * values.len().max(1) as f64;
        let top = values.iter().copied().fold(1.0, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, font(20))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(from.floor()..to.ceil(), 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(LIGHT)
            .x_labels(((to.ceil() - from.floor()) as usize / 2).max(2) + 1)
            .x_label_formatter(&hour_label)
            .y_desc(y_desc)
            .y_label_formatter(&value_label)
            .label_style(font(14))
            .axis_desc_style(font(14))
            .draw()
            .map_err(err)?;
        let points: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, &q)| (from + step * i as f64, q))
            .collect();
        chart
            .draw_series(AreaSeries::new(points.clone(), 0.0, BLUE.mix(0.2)))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(points, BLUE.stroke_width(2)))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Bars stacked per time slot, one layer per series (an item's arrivals
/// per 15 minutes): slot `i` spans hours `from + step * i` to the next.
pub fn stacked_slots(
    title: &str,
    from: f64,
    step: f64,
    series: &[Series],
    y_desc: &str,
) -> Result<String, DrawError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let slots = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
        let totals: Vec<f64> = (0..slots)
            .map(|i| series.iter().filter_map(|s| s.values.get(i)).sum())
            .collect();
        let to = from + step * slots.max(1) as f64;
        let (x0, x1) = (from.floor(), to.ceil().max(from.floor() + 1.0));
        let top = totals.iter().copied().fold(1.0, f64::max) * headroom(series.len());
        let mut chart = ChartBuilder::on(&root)
            .caption(title, font(20))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(LIGHT)
            .disable_x_mesh()
            .x_labels((x1 - x0) as usize + 1)
            .x_label_formatter(&hour_label)
            .y_desc(y_desc)
            .y_label_formatter(&value_label)
            .label_style(font(14))
            .axis_desc_style(font(14))
            .draw()
            .map_err(err)?;
        let mut base = vec![0.0; slots];
        for (k, s) in series.iter().enumerate() {
            let c = colour(k);
            let bars: Vec<_> = s
                .values
                .iter()
                .enumerate()
                .filter(|(_, &v)| v > 0.0)
                .map(|(i, &v)| {
                    let x = from + step * i as f64;
                    let bar = Rectangle::new(
                        [(x + step * 0.08, base[i]), (x + step * 0.92, base[i] + v)],
                        c.mix(0.9).filled(),
                    );
                    base[i] += v;
                    bar
                })
                .collect();
            chart
                .draw_series(bars)
                .map_err(err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font(font(13))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Bars per category (a window, an item, a staff member), side by side per
/// series; `y_top` fixes the axis (100 for shares in per cent).
pub fn category_bars(
    title: &str,
    labels: &[String],
    series: &[Series],
    x_desc: &str,
    y_desc: &str,
    y_top: Option<f64>,
) -> Result<String, DrawError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let n = labels.len().max(1) as f64;
        let rows = if series.len() > 1 { series.len() } else { 0 };
        // A fixed axis (per cent) goes on above its end for the legend,
        // with no labels there: 120 % would read as a value.
        let top = match y_top {
            Some(t) if rows > 0 => t * headroom(rows),
            Some(t) => t,
            None => top(series, 1.0, rows),
        };
        let end = y_top.unwrap_or(f64::INFINITY);
        let y_label = move |y: &f64| {
            if *y > end + 1e-6 {
                String::new()
            } else {
                value_label(y)
            }
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, font(20))
            .margin(12)
            .x_label_area_size(if x_desc.is_empty() { 28 } else { 44 })
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..n, 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(LIGHT)
            .disable_x_mesh()
            .x_labels(labels.len() * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 0.01 {
                    labels.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc(x_desc)
            .y_desc(y_desc)
            .y_label_formatter(&y_label)
            .label_style(font(14))
            .axis_desc_style(font(14))
            .draw()
            .map_err(err)?;
        let k_n = series.len().max(1) as f64;
        let width = 0.7 / k_n;
        for (k, s) in series.iter().enumerate() {
            let c = colour(k);
            chart
                .draw_series(s.values.iter().enumerate().map(|(i, &v)| {
                    let x = i as f64 + 0.15 + width * k as f64;
                    Rectangle::new([(x, 0.0), (x + width, v)], c.mix(0.85).filled())
                }))
                .map_err(err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.3))
                .label_font(font(14))
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_names_the_cjk_fonts_and_draws_its_bars() {
        let svg = category_bars(
            "满意率",
            &["不动产登记".to_string(), "社保".to_string()],
            &[Series::new("满意率", vec![80.0, 95.0])],
            "事项",
            "%",
            Some(100.0),
        )
        .unwrap();
        assert!(svg.contains("Noto Sans CJK SC"), "{svg}");
        assert!(svg.contains("不动产登记"), "{svg}");
        // Two data bars besides the white background.
        assert!(svg.matches("<rect").count() >= 3, "{svg}");
    }

    #[test]
    fn stacked_slots_stack_the_series() {
        let svg = stacked_slots(
            "到达",
            9.0,
            0.25,
            &[
                Series::new("A", vec![1.0, 0.0, 2.0]),
                Series::new("B", vec![3.0, 1.0, 0.0]),
            ],
            "张",
        )
        .unwrap();
        assert!(svg.contains("09:00"), "{svg}");
        // Four non-zero layers, the background and the legend's two keys.
        assert!(svg.matches("<rect").count() >= 5, "{svg}");
    }
}
