//! Human tables: rows of cells printed as aligned columns. Each column is as wide as
//! its widest cell in *display* width (what a terminal shows: a CJK character takes
//! two columns, a combining mark none), measured after escaping, so a long task name
//! or a non-ASCII file name never pushes the columns after it out of line.

use unicode_width::UnicodeWidthStr;

/// How a column's cells are padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text: padded on the right.
    Left,
    /// Numbers: padded on the left.
    Right,
}

/// One line of a [`Table`]: its cells, or a free line printed as it is (a message
/// under its event).
#[derive(Debug)]
enum Line {
    Row(Vec<String>),
    Free(String),
}

/// Rows collected, then printed aligned (through [`crate::output::print_line`]).
#[derive(Debug)]
pub struct Table {
    align: Vec<Align>,
    lines: Vec<Line>,
}

/// Columns are separated by two spaces.
const GAP: &str = "  ";

impl Table {
    /// A table whose columns are aligned as `align` says (cells past its end: left).
    pub fn new(align: &[Align]) -> Self {
        Table { align: align.to_vec(), lines: Vec::new() }
    }

    /// Add a row. Each cell is escaped (no control or formatting character reaches
    /// the terminal, see [`librarian_core::escape`]).
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.lines
            .push(Line::Row(cells.into_iter().map(|c| librarian_core::escape(c.as_ref()).into_owned()).collect()));
    }

    /// Add a line that is not part of the columns (escaped too).
    pub fn free(&mut self, text: &str) {
        self.lines.push(Line::Free(librarian_core::escape(text).into_owned()));
    }

    /// The lines, aligned; trailing spaces trimmed.
    pub fn render(&self) -> Vec<String> {
        let mut widths: Vec<usize> = Vec::new();
        for line in &self.lines {
            if let Line::Row(cells) = line {
                for (i, c) in cells.iter().enumerate() {
                    let w = c.width();
                    match widths.get_mut(i) {
                        Some(have) => *have = (*have).max(w),
                        None => widths.push(w),
                    }
                }
            }
        }
        self.lines
            .iter()
            .map(|line| match line {
                Line::Free(text) => text.clone(),
                Line::Row(cells) => {
                    let mut out = String::new();
                    for (i, c) in cells.iter().enumerate() {
                        if i > 0 {
                            out.push_str(GAP);
                        }
                        let pad = " ".repeat(widths[i].saturating_sub(c.width()));
                        match self.align.get(i).copied().unwrap_or(Align::Left) {
                            Align::Left => {
                                out.push_str(c);
                                out.push_str(&pad);
                            }
                            Align::Right => {
                                out.push_str(&pad);
                                out.push_str(c);
                            }
                        }
                    }
                    out.trim_end().to_owned()
                }
            })
            .collect()
    }

    /// Print the lines.
    pub fn print(&self) {
        for line in self.render() {
            crate::output::print_line(&line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The display column where each line's `n`th cell starts.
    fn starts(lines: &[String], needles: &[&str]) -> Vec<usize> {
        lines.iter().zip(needles).map(|(l, n)| l[..l.find(n).unwrap_or(0)].width()).collect()
    }

    #[test]
    fn columns_line_up_by_display_width() {
        let mut t = Table::new(&[Align::Left, Align::Right, Align::Left]);
        t.row(["reconcile-transfers", "1", "ok"]);
        t.row(["短い", "12345", "ok"]);
        t.row(["e\u{301}", "7", "FAILED"]);
        t.free("    a note");
        t.row(["x\u{1b}[31m", "22", "busy"]);
        let lines = t.render();
        assert_eq!(lines[3], "    a note");
        let rows = [&lines[0], &lines[1], &lines[2], &lines[4]].map(|s| s.clone());
        let third = starts(&rows, &["ok", "ok", "FAILED", "busy"]);
        assert!(third.iter().all(|&c| c == third[0]), "{rows:#?}");
        // Numbers are right-aligned: their last digit in one column.
        let ends: Vec<usize> = rows
            .iter()
            .zip(["1", "12345", "7", "22"])
            .map(|(l, n)| l[..l.find(&format!("{n}  ")).unwrap() + n.len()].width())
            .collect();
        assert!(ends.iter().all(|&c| c == ends[0]), "{rows:#?}");
        assert!(rows[3].starts_with("x\\x1b[31m"), "escaped: {}", rows[3]);
        assert!(lines.iter().all(|l| !l.ends_with(' ')));
    }
}
