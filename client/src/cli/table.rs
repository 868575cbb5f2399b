//! Plain-text tables whose columns stay aligned when cells hold Chinese
//! (a hall's item names and pause reasons usually do): a CJK character takes
//! two terminal columns, so padding by `char` count would skew every row.

/// A table: a header row and data rows, printed with two spaces between
/// columns and no trailing spaces.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings.
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    /// Adds one row; missing cells print empty.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as lines, each ending in `\n`.
    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| width(cell))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, w) in widths.iter().enumerate() {
                let cell = row.get(c).map_or("", String::as_str);
                if c > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', w.saturating_sub(width(cell))));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Terminal columns `s` takes: 2 for East Asian wide and full-width
/// characters, 1 for the rest. A small table of the ranges a hall's texts
/// use, rather than a dependency for full Unicode width data.
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    let wide = matches!(u32::from(c),
        0x1100..=0x115F      // Hangul Jamo
        | 0x2E80..=0x303E    // CJK radicals, punctuation (、。「」)
        | 0x3041..=0x33FF    // kana, CJK symbols
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xA000..=0xA4CF    // Yi
        | 0xAC00..=0xD7A3    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFE30..=0xFE4F    // CJK compatibility forms
        | 0xFF00..=0xFF60    // full-width forms (（），：)
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD  // CJK extensions B and later
    );
    if wide {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_counts_double() {
        assert_eq!(width("A012"), 4);
        assert_eq!(width("社保"), 4);
        assert_eq!(width("午休（10分钟）"), 14);
    }

    #[test]
    fn columns_align_with_mixed_scripts() {
        let mut t = Table::new(&["ITEM", "NAME", "N"]);
        t.row(vec!["A".into(), "社保".into(), "3".into()]);
        t.row(vec!["C".into(), "不动产登记".into(), "12".into()]);
        t.row(vec!["D".into(), "tax".into()]);
        assert_eq!(
            t.render(),
            "ITEM  NAME        N\n\
             A     社保        3\n\
             C     不动产登记  12\n\
             D     tax\n"
        );
    }
}
