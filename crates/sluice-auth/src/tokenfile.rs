//! kube-apiserver's static token file (`--token-auth-file`): CSV records
//! `token,user,uid[,"group1,group2,..."]`, read as Go's `encoding/csv` reads it with
//! `TrimLeadingSpace` and any number of fields (kubernetes
//! staging/src/k8s.io/apiserver/pkg/authentication/token/tokenfile/tokenfile.go: fewer than
//! 3 columns is an error, an empty token is skipped, a duplicate token's later record wins,
//! the 4th column split on `,` is the groups).

use std::collections::HashMap;

use crate::UserInfo;

/// A token file error, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {msg}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

/// The users of a token file.
#[derive(Debug, Clone, Default)]
pub struct TokenFile {
    users: HashMap<String, UserInfo>,
    /// Records skipped with why (empty tokens, duplicates), as upstream logs them.
    pub warnings: Vec<String>,
}

/// One CSV record and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Splits `text` into CSV records as Go's `encoding/csv` does (RFC 4180 quoting with `""`
/// escapes, quoted fields spanning lines, empty lines ignored, `\r\n` as `\n`), with
/// leading white space of each field trimmed; a bare `"` in an unquoted field or an
/// unterminated quote is an error.
pub fn read_csv(file: &str, text: &str) -> Result<Vec<Record>, ParseError> {
    let err = |line: usize, col: usize, msg: &str| ParseError {
        file: file.to_owned(),
        line,
        col,
        msg: msg.to_owned(),
    };
    let text = text.replace("\r\n", "\n");
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    while i < chars.len() {
        if chars[i] == '\n' {
            i += 1;
            line += 1;
            col = 1;
            continue;
        }
        let start_line = line;
        let mut fields = Vec::new();
        loop {
            // one field
            while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
                i += 1;
                col += 1;
            }
            let mut field = String::new();
            if i < chars.len() && chars[i] == '"' {
                let (qline, qcol) = (line, col);
                i += 1;
                col += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(err(
                                qline,
                                qcol,
                                "extraneous or missing \" in quoted-field",
                            ));
                        }
                        Some('"') if chars.get(i + 1) == Some(&'"') => {
                            field.push('"');
                            i += 2;
                            col += 2;
                        }
                        Some('"') => {
                            i += 1;
                            col += 1;
                            break;
                        }
                        Some('\n') => {
                            field.push('\n');
                            i += 1;
                            line += 1;
                            col = 1;
                        }
                        Some(c) => {
                            field.push(*c);
                            i += 1;
                            col += 1;
                        }
                    }
                }
                match chars.get(i) {
                    None | Some(',') | Some('\n') => {}
                    Some(_) => {
                        return Err(err(line, col, "extraneous or missing \" in quoted-field"));
                    }
                }
            } else {
                while let Some(&c) = chars.get(i) {
                    if c == ',' || c == '\n' {
                        break;
                    }
                    if c == '"' {
                        return Err(err(line, col, "bare \" in non-quoted-field"));
                    }
                    field.push(c);
                    i += 1;
                    col += 1;
                }
            }
            fields.push(field);
            match chars.get(i) {
                Some(',') => {
                    i += 1;
                    col += 1;
                }
                Some('\n') => {
                    i += 1;
                    line += 1;
                    col = 1;
                    break;
                }
                _ => break,
            }
        }
        out.push(Record {
            line: start_line,
            fields,
        });
    }
    Ok(out)
}

impl TokenFile {
    /// Parses a token file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, ParseError> {
        let mut tf = TokenFile::default();
        for (n, rec) in read_csv(file, text)?.into_iter().enumerate() {
            let f = &rec.fields;
            if f.len() < 3 {
                return Err(ParseError {
                    file: file.to_owned(),
                    line: rec.line,
                    col: 1,
                    msg: format!(
                        "token file must have at least 3 columns (token, user name, user uid), found {}",
                        f.len()
                    ),
                });
            }
            if f[0].is_empty() {
                tf.warnings.push(format!(
                    "{file}:{}: empty token in record number {}, skipped",
                    rec.line,
                    n + 1
                ));
                continue;
            }
            let user = UserInfo {
                username: f[1].clone(),
                uid: f[2].clone(),
                groups: f
                    .get(3)
                    .map(|g| g.split(',').map(str::to_owned).collect())
                    .unwrap_or_default(),
                extra: Default::default(),
            };
            if tf.users.insert(f[0].clone(), user).is_some() {
                tf.warnings.push(format!(
                    "{file}:{}: duplicate token in record number {}, the later record wins",
                    rec.line,
                    n + 1
                ));
            }
        }
        Ok(tf)
    }

    /// The user a token belongs to. Every stored token is compared in constant time, so the
    /// time taken says nothing about which tokens exist.
    pub fn authenticate(&self, token: &str) -> Option<&UserInfo> {
        let mut found = None;
        for (t, u) in &self.users {
            if crate::secret_eq(t.as_bytes(), token.as_bytes()) {
                found = Some(u);
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_as_kube_apiserver_reads_them() {
        // tokenfile_test.go's forms: groups quoted, no groups, an empty group column
        let tf = TokenFile::parse(
            "t.csv",
            "token1,user1,uid1\ntoken2,user2,uid2,\"group1,group2\"\n\n token3, user3 ,uid3,\n",
        )
        .expect("parses");
        let u = tf.authenticate("token2").expect("token2");
        assert_eq!(u.username, "user2");
        assert_eq!(u.groups, vec!["group1", "group2"]);
        assert!(tf.authenticate("token1").expect("t1").groups.is_empty());
        let u3 = tf.authenticate("token3").expect("leading space trimmed");
        assert_eq!(u3.username, "user3 ", "only leading white space is trimmed");
        assert_eq!(
            u3.groups,
            vec![""],
            "an empty 4th column is one empty group, as Go's Split"
        );
        assert!(tf.authenticate("token4").is_none());
        assert!(tf.authenticate("").is_none());
    }

    #[test]
    fn errors_and_warnings() {
        let e = TokenFile::parse("t.csv", "a,b,c\nonly,two\n").expect_err("2 columns");
        assert_eq!((e.line, e.col), (2, 1));
        assert!(
            e.to_string()
                .starts_with("t.csv:2:1: token file must have at least 3 columns")
        );
        let e = TokenFile::parse("t.csv", "a,b\"x,c\n").expect_err("bare quote");
        assert_eq!((e.line, e.col), (1, 4));
        let e = TokenFile::parse("t.csv", "a,b,c,\"g1,g2\n").expect_err("unterminated");
        assert_eq!((e.line, e.col), (1, 7));
        let tf = TokenFile::parse("t.csv", ",u,1\nt,u1,1\nt,u2,2\n").expect("parses");
        assert_eq!(tf.warnings.len(), 2);
        assert_eq!(
            tf.authenticate("t").expect("t").username,
            "u2",
            "later record wins"
        );
        // a quoted field spanning lines and an escaped quote
        let tf = TokenFile::parse("t.csv", "\"a\"\"b\",\"u\nv\",1\n").expect("parses");
        assert_eq!(tf.authenticate("a\"b").expect("quoted").username, "u\nv");
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(s in "[a-z,\" \n\r\t]{0,200}") {
            let _ = TokenFile::parse("p.csv", &s);
        }

        #[test]
        fn written_records_read_back(
            rows in proptest::collection::vec(
                ("[a-zA-Z0-9]{1,12}", "[a-z@.:]{1,10}", "[0-9]{1,4}",
                 proptest::collection::vec("[a-z:-]{1,8}", 0..4)), 1..8)
        ) {
            let mut text = String::new();
            for (t, u, id, g) in &rows {
                text.push_str(&format!("{t},{u},{id}"));
                if !g.is_empty() {
                    text.push_str(&format!(",\"{}\"", g.join(",")));
                }
                text.push('\n');
            }
            let tf = TokenFile::parse("p.csv", &text).expect("well-formed file parses");
            let mut last = std::collections::HashMap::new();
            for r in &rows { last.insert(r.0.clone(), r.clone()); }
            for (t, (_, u, id, g)) in &last {
                let got = tf.authenticate(t).expect("token known");
                proptest::prop_assert_eq!(&got.username, u);
                proptest::prop_assert_eq!(&got.uid, id);
                proptest::prop_assert_eq!(&got.groups, g);
            }
        }
    }
}
