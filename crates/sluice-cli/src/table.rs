//! Aligned columns as Go's `text/tabwriter` writes them for kubectl and tkn (minwidth 0,
//! padding 3, blanks; the last cell of a row is not padded). Widths ignore ANSI colour.

use crate::format::visible_width;

/// Renders rows of cells; every row ends with a newline. `indent` prefixes each row.
pub fn render(rows: &[Vec<String>], indent: &str) -> String {
    render_padded(rows, indent, 3)
}

/// [`render`] with another padding: the argocd CLI's tabwriters pad with 2
/// (`tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)`, cmd/argocd/commands/app.go).
pub fn render_padded(rows: &[Vec<String>], indent: &str, padding: usize) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        // as Go's tabwriter, the last cell of a row is not in a column: it never widens one
        for (i, c) in r.iter().enumerate().take(r.len().saturating_sub(1)) {
            widths[i] = widths[i].max(visible_width(c));
        }
    }
    let mut out = String::new();
    for r in rows {
        out.push_str(indent);
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i + 1 < r.len() {
                let pad = widths[i] - visible_width(c) + padding;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// Go's `tabwriter.NewWriter(w, minwidth, 0, padding, ' ', 0)`: a column is as wide as
/// its widest cell plus `padding`, at least `minwidth`.
pub fn render_min(rows: &[Vec<String>], minwidth: usize, padding: usize) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![minwidth; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate().take(r.len().saturating_sub(1)) {
            widths[i] = widths[i].max(visible_width(c) + padding);
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i + 1 < r.len() {
                out.extend(std::iter::repeat_n(' ', widths[i] - visible_width(c)));
            }
        }
        out.push('\n');
    }
    out
}

/// A row of string cells.
pub fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_on_the_widest_cell_plus_three() {
        let rows = vec![
            row(["NAME", "STARTED", "STATUS"]),
            row(["build-1", "2 minutes ago", "Succeeded"]),
            row(["b", "---", "\x1b[91mFailed\x1b[0m"]),
        ];
        assert_eq!(
            render(&rows, ""),
            "NAME      STARTED         STATUS\n\
             build-1   2 minutes ago   Succeeded\n\
             b         ---             \x1b[91mFailed\x1b[0m\n"
        );
        assert_eq!(render(&[row(["a", "b"])], " "), " a   b\n");
        assert_eq!(render(&[], ""), "");
    }
}
