//! The parser: text/template's grammar over the lexer of [`crate::appset`], with `define`,
//! `block` and `template`, and function names checked against Helm's function map.

use crate::appset::{Item, Num, TemplateError, Tok, lex};

use super::Error;

/// Control structures nested in one template (Go does not limit them; real charts nest a
/// handful of levels).
pub const MAX_NESTING: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Sub(Box<Pipe>, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cmd {
    pub args: Vec<Arg>,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipe {
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
    pub pos: usize,
}

/// A node of a parsed template.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    Action(Box<Pipe>),
    If(Box<Pipe>, Vec<Node>, Vec<Node>),
    Range(Box<Pipe>, Vec<Node>, Vec<Node>),
    With(Box<Pipe>, Vec<Node>, Vec<Node>),
    Template(String, Option<Box<Pipe>>, usize),
    Break,
    Continue,
}

/// One named template: its nodes and the source its positions refer to.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    pub name: String,
    /// The file the tree was parsed from (error positions name it).
    pub file: String,
    pub src: std::rc::Rc<str>,
    pub root: Vec<Node>,
}

impl Tree {
    /// Whether the body is only white space (Go's `IsEmptyTree`: such a tree does not
    /// replace an existing definition).
    pub fn is_empty_body(&self) -> bool {
        self.root
            .iter()
            .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
    }
}

pub fn line_col(src: &str, pos: usize) -> (usize, usize) {
    crate::appset::line_col(src, pos)
}

enum Ctl {
    End,
    Else(Option<(Vec<(Tok, usize)>, usize)>),
    Eof,
}

struct Parser<'s> {
    name: &'s str,
    src: &'s str,
    items: Vec<Item>,
    idx: usize,
    vars: Vec<String>,
    depth: usize,
    defines: Vec<(String, Tree)>,
    /// Inside a `define`/`block` body.
    in_define: bool,
}

/// Parses `src` as the template `name`: its main tree and the trees it defines.
pub fn parse(name: &str, src: &str) -> Result<(Tree, Vec<(String, Tree)>), Error> {
    let items = lex(src).map_err(|e| conv(name, e))?;
    let mut p = Parser {
        name,
        src,
        items,
        idx: 0,
        vars: vec!["$".to_owned()],
        depth: 0,
        defines: Vec::new(),
        in_define: false,
    };
    let (root, ctl, pos) = p.list()?;
    match ctl {
        Ctl::Eof => {}
        Ctl::End => return Err(p.err(pos, "unexpected {{end}}")),
        Ctl::Else(_) => return Err(p.err(pos, "unexpected {{else}}")),
    }
    let rc: std::rc::Rc<str> = src.into();
    let defines = p
        .defines
        .into_iter()
        .map(|(n, mut t)| {
            t.src = rc.clone();
            (n, t)
        })
        .collect();
    Ok((
        Tree {
            name: name.to_owned(),
            file: name.to_owned(),
            src: rc,
            root,
        },
        defines,
    ))
}

fn conv(name: &str, e: TemplateError) -> Error {
    match e {
        TemplateError::Parse { line, message, .. } => {
            Error::Parse(format!("{name}:{line}: {message}"))
        }
        other => Error::Parse(format!("{name}: {other}")),
    }
}

impl Parser<'_> {
    fn err(&self, pos: usize, msg: &str) -> Error {
        let (l, _) = line_col(self.src, pos);
        Error::Parse(format!("{}:{l}: {msg}", self.name))
    }

    fn list(&mut self) -> Result<(Vec<Node>, Ctl, usize), Error> {
        let mut nodes = Vec::new();
        while self.idx < self.items.len() {
            let item = self.items[self.idx].clone();
            self.idx += 1;
            match item {
                Item::Text(t) => nodes.push(Node::Text(t)),
                Item::Action { toks, pos } => {
                    let Some((first, _)) = toks.first() else {
                        return Err(self.err(pos, "missing value for command"));
                    };
                    match first {
                        Tok::Ident(k) if k == "end" => {
                            if toks.len() > 1 {
                                return Err(self.err(pos, "unexpected token in end"));
                            }
                            return Ok((nodes, Ctl::End, pos));
                        }
                        Tok::Ident(k) if k == "else" => {
                            let rest = toks[1..].to_vec();
                            let e = if rest.is_empty() {
                                None
                            } else {
                                Some((rest, pos))
                            };
                            return Ok((nodes, Ctl::Else(e), pos));
                        }
                        Tok::Ident(k) if k == "if" || k == "range" || k == "with" => {
                            let k = k.clone();
                            nodes.push(self.control(&k, &toks[1..], pos)?);
                        }
                        Tok::Ident(k) if k == "break" || k == "continue" => {
                            nodes.push(if k == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        Tok::Ident(k) if k == "template" => {
                            let name = match toks.get(1) {
                                Some((Tok::Str(s), _)) => s.clone(),
                                _ => {
                                    return Err(
                                        self.err(pos, "unexpected token in template clause")
                                    );
                                }
                            };
                            let pipe = if toks.len() > 2 {
                                Some(Box::new(self.pipeline(&toks[2..], pos, false)?))
                            } else {
                                None
                            };
                            nodes.push(Node::Template(name, pipe, pos));
                        }
                        Tok::Ident(k) if k == "define" || k == "block" => {
                            let k = k.clone();
                            let name = match toks.get(1) {
                                Some((Tok::Str(s), _)) => s.clone(),
                                _ => {
                                    return Err(
                                        self.err(pos, &format!("unexpected token in {k} clause"))
                                    );
                                }
                            };
                            if k == "define" && (self.depth > 0 || self.in_define) {
                                return Err(self.err(pos, "unexpected <define> in command"));
                            }
                            let pipe = if k == "block" {
                                if toks.len() < 3 {
                                    return Err(self.err(pos, "missing pipeline in block clause"));
                                }
                                Some(Box::new(self.pipeline(&toks[2..], pos, false)?))
                            } else if toks.len() > 2 {
                                return Err(self.err(pos, "unexpected token in define clause"));
                            } else {
                                None
                            };
                            let saved_vars =
                                std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
                            let saved_in = std::mem::replace(&mut self.in_define, true);
                            let (body, ctl, cpos) = self.list()?;
                            self.vars = saved_vars;
                            self.in_define = saved_in;
                            match ctl {
                                Ctl::End => {}
                                Ctl::Eof => {
                                    return Err(self.err(cpos, &format!("unexpected EOF in {k}")));
                                }
                                Ctl::Else(_) => return Err(self.err(cpos, "unexpected {{else}}")),
                            }
                            self.defines.push((
                                name.clone(),
                                Tree {
                                    name: name.clone(),
                                    file: self.name.to_owned(),
                                    src: "".into(),
                                    root: body,
                                },
                            ));
                            if k == "block" {
                                nodes.push(Node::Template(name, pipe, pos));
                            }
                        }
                        _ => {
                            let p = self.pipeline(&toks, pos, true)?;
                            nodes.push(Node::Action(Box::new(p)));
                        }
                    }
                }
            }
        }
        Ok((nodes, Ctl::Eof, self.src.len()))
    }

    fn control(&mut self, kw: &str, toks: &[(Tok, usize)], pos: usize) -> Result<Node, Error> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(
                pos,
                &format!("control structures nest deeper than {MAX_NESTING} levels"),
            ));
        }
        let r = self.control_body(kw, toks, pos);
        self.depth -= 1;
        r
    }

    fn control_body(&mut self, kw: &str, toks: &[(Tok, usize)], pos: usize) -> Result<Node, Error> {
        let saved = self.vars.len();
        let pipe = self.pipeline(toks, pos, kw == "range")?;
        let (body, ctl, cpos) = self.list()?;
        let else_list = match ctl {
            Ctl::End => Vec::new(),
            Ctl::Eof => return Err(self.err(cpos, &format!("unexpected EOF in {kw}"))),
            Ctl::Else(None) => {
                let (e, ctl2, p2) = self.list()?;
                match ctl2 {
                    Ctl::End => e,
                    Ctl::Eof => return Err(self.err(p2, &format!("unexpected EOF in {kw}"))),
                    Ctl::Else(_) => return Err(self.err(p2, "expected end; found {{else}}")),
                }
            }
            Ctl::Else(Some((rest, epos))) => match rest.first() {
                Some((Tok::Ident(k2), _)) if (k2 == "if" || k2 == "with") && k2 == kw => {
                    let k2 = k2.clone();
                    vec![self.control(&k2, &rest[1..], epos)?]
                }
                _ => return Err(self.err(epos, "unexpected token in else")),
            },
        };
        self.vars.truncate(saved);
        let pipe = Box::new(pipe);
        Ok(match kw {
            "if" => Node::If(pipe, body, else_list),
            "range" => Node::Range(pipe, body, else_list),
            _ => Node::With(pipe, body, else_list),
        })
    }

    fn pipeline(
        &mut self,
        toks: &[(Tok, usize)],
        pos: usize,
        allow_two: bool,
    ) -> Result<Pipe, Error> {
        let mut decl = Vec::new();
        let mut assign = false;
        let mut start = 0;
        if let Some(d) = toks
            .iter()
            .position(|(t, _)| matches!(t, Tok::Declare | Tok::Assign))
        {
            let head = &toks[..d];
            let is_var_list = !head.is_empty()
                && head.len() % 2 == 1
                && head.iter().enumerate().all(|(i, (t, _))| {
                    if i % 2 == 0 {
                        matches!(t, Tok::Var(_))
                    } else {
                        matches!(t, Tok::Comma)
                    }
                });
            if is_var_list && (head.len() == 1 || allow_two) {
                for (t, _) in head.iter().step_by(2) {
                    if let Tok::Var(v) = t {
                        decl.push(v.clone());
                    }
                }
                assign = matches!(toks[d].0, Tok::Assign);
                start = d + 1;
                if assign {
                    for v in &decl {
                        if !self.vars.contains(v) {
                            return Err(self.err(pos, &format!("undefined variable \"{v}\"")));
                        }
                    }
                }
            }
        }
        let mut cmds = Vec::new();
        let mut cur: Vec<(Tok, usize)> = Vec::new();
        let mut depth = 0i32;
        for (t, p) in &toks[start..] {
            match t {
                Tok::LParen => depth += 1,
                Tok::RParen => depth -= 1,
                _ => {}
            }
            if *t == Tok::Pipe && depth == 0 {
                if cur.is_empty() {
                    return Err(self.err(*p, "missing command"));
                }
                cmds.push(self.command(&cur, pos)?);
                cur.clear();
            } else {
                cur.push((t.clone(), *p));
            }
        }
        if cur.is_empty() {
            return Err(self.err(pos, "missing value for command"));
        }
        cmds.push(self.command(&cur, pos)?);
        if !assign {
            self.vars.extend(decl.iter().cloned());
        }
        Ok(Pipe {
            decl,
            assign,
            cmds,
            pos,
        })
    }

    fn trailing_fields(toks: &[(Tok, usize)], i: &mut usize) -> Vec<String> {
        let mut fields = Vec::new();
        while let Some((Tok::Field(f2, true), _)) = toks.get(*i + 1) {
            fields.push(f2.clone());
            *i += 1;
        }
        fields
    }

    fn command(&mut self, toks: &[(Tok, usize)], pos: usize) -> Result<Cmd, Error> {
        let mut args = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let (t, p) = &toks[i];
            let arg = match t {
                Tok::Dot => Arg::Dot,
                Tok::Field(f, _) => {
                    let mut fields = vec![f.clone()];
                    fields.extend(Self::trailing_fields(toks, &mut i));
                    Arg::Field(fields)
                }
                Tok::Var(v) => {
                    if !self.vars.contains(v) {
                        return Err(self.err(*p, &format!("undefined variable \"{v}\"")));
                    }
                    Arg::Var(v.clone(), Self::trailing_fields(toks, &mut i))
                }
                Tok::Ident(name) => match name.as_str() {
                    "true" => Arg::Bool(true),
                    "false" => Arg::Bool(false),
                    "nil" => Arg::Nil,
                    "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block"
                    | "break" | "continue" => {
                        return Err(self.err(*p, &format!("unexpected <{name}> in command")));
                    }
                    _ => {
                        if !super::is_function(name) {
                            return Err(self.err(*p, &format!("function \"{name}\" not defined")));
                        }
                        let fields = Self::trailing_fields(toks, &mut i);
                        if fields.is_empty() {
                            Arg::Func(name.clone())
                        } else {
                            let call = Pipe {
                                decl: Vec::new(),
                                assign: false,
                                cmds: vec![Cmd {
                                    args: vec![Arg::Func(name.clone())],
                                    pos: *p,
                                }],
                                pos: *p,
                            };
                            Arg::Sub(Box::new(call), fields)
                        }
                    }
                },
                Tok::Str(s) => Arg::Str(s.clone()),
                Tok::Num(Num::Int(n)) => Arg::Int(*n),
                Tok::Num(Num::Float(x)) => Arg::Float(*x),
                Tok::Char(c) => Arg::Int(*c),
                Tok::LParen => {
                    let mut depth = 1;
                    let mut j = i + 1;
                    while j < toks.len() {
                        match toks[j].0 {
                            Tok::LParen => depth += 1,
                            Tok::RParen => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        j += 1;
                    }
                    if j >= toks.len() {
                        return Err(self.err(*p, "unclosed left paren"));
                    }
                    let inner = self.pipeline(&toks[i + 1..j], *p, false)?;
                    i = j;
                    Arg::Sub(Box::new(inner), Self::trailing_fields(toks, &mut i))
                }
                Tok::RParen => return Err(self.err(*p, "unexpected right paren")),
                Tok::Pipe | Tok::Comma | Tok::Declare | Tok::Assign => {
                    return Err(self.err(*p, "unexpected token in operand"));
                }
            };
            args.push(arg);
            i += 1;
        }
        let pos = toks.first().map_or(pos, |t| t.1);
        Ok(Cmd { args, pos })
    }
}
