//! Masking of Secret values in logs.

/// Replaces every occurrence of a secret value with `***`.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// Longest first, so that a value containing another is masked whole.
    values: Vec<String>,
}

impl Masker {
    pub fn new(mut values: Vec<String>) -> Self {
        values.retain(|v| !v.trim().is_empty());
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Masker { values }
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn mask(&self, line: &str) -> String {
        let mut out = line.to_owned();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), "***");
            }
            // a multi-line value is masked line by line too
            for part in v.lines().filter(|p| p.len() >= 3) {
                if out.contains(part) {
                    out = out.replace(part, "***");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_longest_first() {
        let m = Masker::new(vec!["abc".into(), "abcdef".into(), " ".into()]);
        assert_eq!(m.mask("x abcdef y abc"), "x *** y ***");
    }
}
