//! Reads Dana sources well enough to check them against the interfaces they use, where no Dana
//! compiler runs.
//!
//! - [`lex`] cuts a source into tokens (comments dropped, string literals kept with the
//!   variables and expressions they interpolate);
//! - [`Catalog`] holds the interfaces and data types the sources may use: the facts of
//!   `dana/stdlib-signatures.txt` ([`Catalog::add_fixture`]) and the project's own interface
//!   files under `dana/resources/` ([`Catalog::add_interface_file`]);
//! - [`check_file`] checks one `.dn` file: every `provides` / `requires` name, every call on a
//!   required interface or object (the function exists, the number of arguments fits its
//!   parameters and their `opt`), every field and constant read, every `new`, every call of the
//!   component's own functions (`asynch::` ones included), every variable a string
//!   interpolates, that each provided interface is implemented with its declared signatures,
//!   and that no `throw` is left (a Dana exception cannot be caught: the function that throws
//!   returns its default value to a caller that carries on).
//!
//! It is a reader for the subset of Dana this project writes, not a compiler: types of
//! arguments are not checked, and a variable name keeps one type per file (the check fails
//! when a file declares one name with two types, so that it never guesses).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

/// One token of Dana source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A name or keyword.
    Ident(String),
    /// A number literal.
    Number(String),
    /// A string literal.
    Str(DanaString),
    /// Punctuation: `::` or a single character.
    Punct(String),
}

/// A string literal: its text as written and what it interpolates.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DanaString {
    /// The characters between the quotes, escapes as written.
    pub(crate) text: String,
    /// Names interpolated as `$name`.
    pub(crate) vars: Vec<String>,
    /// Expressions interpolated as `$(expression)`, as tokens.
    pub(crate) exprs: Vec<Vec<Token>>,
}

/// A token and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// The token.
    pub(crate) tok: Tok,
    /// Its line.
    pub(crate) line: usize,
}

impl Token {
    fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(name) => Some(name),
            _ => None,
        }
    }

    fn is(&self, punct: &str) -> bool {
        matches!(&self.tok, Tok::Punct(p) if p == punct)
    }

    fn is_word(&self, word: &str) -> bool {
        self.ident() == Some(word)
    }
}

/// Cuts Dana source into tokens.
///
/// # Errors
/// On an unterminated comment or string, or a character Dana does not use.
pub(crate) fn lex(source: &str) -> Result<Vec<Token>, String> {
    lex_from(source, 1)
}

fn lex_from(source: &str, first_line: usize) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut line = first_line;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let start = line;
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                if chars[i] == '\n' {
                    line += 1;
                }
                i += 1;
            }
            if i >= chars.len() {
                return Err(format!("line {start}: comment not closed"));
            }
            i += 2;
        } else if c == '"' {
            let start = line;
            let (string, end, lines) = lex_string(&chars, i, line)?;
            tokens.push(Token {
                tok: Tok::Str(string),
                line: start,
            });
            line += lines;
            i = end;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            tokens.push(Token {
                tok: Tok::Number(chars[start..i].iter().collect()),
                line,
            });
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token {
                tok: Tok::Ident(chars[start..i].iter().collect()),
                line,
            });
        } else if c == ':' && next == Some(':') {
            tokens.push(Token {
                tok: Tok::Punct("::".to_owned()),
                line,
            });
            i += 2;
        } else if "()[]{},.:=+-*/<>!&|%^~?;".contains(c) {
            tokens.push(Token {
                tok: Tok::Punct(c.to_string()),
                line,
            });
            i += 1;
        } else {
            return Err(format!("line {line}: unexpected character {c:?}"));
        }
    }
    Ok(tokens)
}

/// A string literal starting at `chars[start]` (the opening quote): the string, the index after
/// the closing quote, and how many line breaks it holds.
fn lex_string(
    chars: &[char],
    start: usize,
    line: usize,
) -> Result<(DanaString, usize, usize), String> {
    let mut string = DanaString {
        text: String::new(),
        vars: Vec::new(),
        exprs: Vec::new(),
    };
    let mut lines = 0;
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => return Ok((string, i + 1, lines)),
            '\\' => {
                string.text.push(c);
                if let Some(&escaped) = chars.get(i + 1) {
                    string.text.push(escaped);
                }
                i += 2;
            }
            '$' if chars.get(i + 1) == Some(&'(') => {
                let open = i + 1;
                let mut depth = 0;
                let mut j = open;
                while j < chars.len() {
                    match chars[j] {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(format!("line {line}: $( not closed in a string"));
                }
                let inner: String = chars[open + 1..j].iter().collect();
                string.exprs.push(lex_from(&inner, line + lines)?);
                string.text.extend(&chars[i..=j]);
                i = j + 1;
            }
            '$' if chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == '_') =>
            {
                let name_start = i + 1;
                let mut j = name_start;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                string.vars.push(chars[name_start..j].iter().collect());
                string.text.extend(&chars[i..j]);
                i = j;
            }
            _ => {
                if c == '\n' {
                    lines += 1;
                }
                string.text.push(c);
                i += 1;
            }
        }
    }
    Err(format!("line {line}: string not closed"))
}

/// One parameter of a function or constructor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    /// Its type, `[]` appended for an array (`char url[]` is `char[]`).
    pub(crate) ty: String,
    /// Its name.
    pub(crate) name: String,
    /// Whether it is marked `opt`.
    pub(crate) opt: bool,
}

/// The smallest and largest number of arguments a parameter list takes: the parameters from
/// the first `opt` one on may be left out.
pub(crate) fn arity(params: &[Param]) -> (usize, usize) {
    let required = params.iter().position(|p| p.opt).unwrap_or(params.len());
    (required, params.len())
}

/// A function of an interface (or of a component, for its own functions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Function {
    /// Its name.
    pub(crate) name: String,
    /// Its return type (`char[]`, `void`, ...).
    pub(crate) ret: String,
    /// Its parameters.
    pub(crate) params: Vec<Param>,
    /// Whether the interface gives it a default body (implementing it is then optional).
    pub(crate) default_body: bool,
}

/// An interface: functions, constructors, constants, and where it was read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interface {
    /// Qualified name (`net.http.HTTPRequest`).
    pub(crate) name: String,
    /// The qualified name of the interface it extends.
    pub(crate) extends: Option<String>,
    /// Its functions.
    pub(crate) functions: Vec<Function>,
    /// Its constructors' parameter lists.
    pub(crate) constructors: Vec<Vec<Param>>,
    /// Names of its constants.
    pub(crate) consts: Vec<String>,
    /// Where its declaration was read.
    pub(crate) origins: Vec<String>,
}

/// A data type: fields (name and type), constants, and where it was read.
#[derive(Debug, Clone, Default)]
pub(crate) struct DataType {
    /// Its name.
    pub(crate) name: String,
    /// Its fields as (name, type).
    pub(crate) fields: Vec<(String, String)>,
    /// Names of its constants.
    pub(crate) consts: Vec<String>,
    /// Where its declaration was read.
    pub(crate) origin: String,
}

/// The last part of a qualified name.
pub(crate) fn short_name(qualified: &str) -> &str {
    qualified.rsplit('.').next().unwrap_or(qualified)
}

/// Interfaces and data types the sources may use.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    /// Interfaces by qualified name.
    pub(crate) interfaces: BTreeMap<String, Interface>,
    /// Data types by name.
    pub(crate) data: BTreeMap<String, DataType>,
}

/// Member lines of one declaration block, before they are sorted into functions, fields, ...
enum Member {
    Function(Function),
    Constructor(Vec<Param>),
    Const(String),
    Field(String, String),
}

/// The tokens of `tokens[open]` (an opening bracket) up to its matching closing bracket, as
/// the index of that closing bracket.
fn matching(tokens: &[Token], open: usize) -> Option<usize> {
    let (o, c) = match &tokens.get(open)?.tok {
        Tok::Punct(p) if p == "(" => ("(", ")"),
        Tok::Punct(p) if p == "[" => ("[", "]"),
        Tok::Punct(p) if p == "{" => ("{", "}"),
        _ => return None,
    };
    let mut depth = 0;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        if token.is(o) {
            depth += 1;
        } else if token.is(c) {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// Splits `tokens` at the commas outside brackets.
fn split_commas(tokens: &[Token]) -> Vec<&[Token]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        if token.is("(") || token.is("[") || token.is("{") {
            depth += 1;
        } else if token.is(")") || token.is("]") || token.is("}") {
            depth -= 1;
        } else if token.is(",") && depth == 0 {
            parts.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    if start < tokens.len() {
        parts.push(&tokens[start..]);
    }
    parts
}

/// A type written as `Name`, `pkg.Name` or `Name[]`, from `tokens[i]`: the type and the index
/// after it.
fn read_type(tokens: &[Token], mut i: usize) -> Option<(String, usize)> {
    let mut ty = tokens.get(i)?.ident()?.to_owned();
    i += 1;
    while tokens.get(i).is_some_and(|t| t.is(".")) && tokens.get(i + 1)?.ident().is_some() {
        ty.push('.');
        ty.push_str(tokens[i + 1].ident()?);
        i += 2;
    }
    if tokens.get(i).is_some_and(|t| t.is("[")) && tokens.get(i + 1).is_some_and(|t| t.is("]")) {
        ty.push_str("[]");
        i += 2;
    }
    Some((ty, i))
}

/// `[opt] [store] TYPE NAME[[]]`.
fn parse_param(tokens: &[Token]) -> Result<Param, String> {
    let mut i = 0;
    let opt = tokens.first().is_some_and(|t| t.is_word("opt"));
    if opt {
        i += 1;
    }
    if tokens.get(i).is_some_and(|t| t.is_word("store")) {
        i += 1;
    }
    let (mut ty, next) = read_type(tokens, i).ok_or("a parameter without a type")?;
    let name = tokens
        .get(next)
        .and_then(Token::ident)
        .ok_or_else(|| format!("a parameter of type {ty} without a name"))?
        .to_owned();
    let rest = &tokens[next + 1..];
    if rest.len() == 2 && rest[0].is("[") && rest[1].is("]") {
        ty.push_str("[]");
    } else if !rest.is_empty() {
        return Err(format!("unexpected tokens after parameter {name}"));
    }
    Ok(Param { ty, name, opt })
}

/// The parameters between `tokens[open]` `(` and its `)`, and the index of that `)`.
fn parse_params(tokens: &[Token], open: usize) -> Result<(Vec<Param>, usize), String> {
    let close = matching(tokens, open).ok_or("parameter list not closed")?;
    let params = split_commas(&tokens[open + 1..close])
        .into_iter()
        .map(parse_param)
        .collect::<Result<_, _>>()?;
    Ok((params, close))
}

/// One member of an interface or data block, written on one line.
fn parse_member(tokens: &[Token], owner_short: &str) -> Result<Member, String> {
    if tokens.first().is_some_and(|t| t.is_word("const")) {
        let (_, next) = read_type(tokens, 1).ok_or("a constant without a type")?;
        let name = tokens
            .get(next)
            .and_then(Token::ident)
            .ok_or("a constant without a name")?;
        return Ok(Member::Const(name.to_owned()));
    }
    if let Some(open) = tokens.iter().position(|t| t.is("(")) {
        let (params, close) = parse_params(tokens, open)?;
        let rest = &tokens[close + 1..];
        let default_body = rest.len() == 2 && rest[0].is("{") && rest[1].is("}");
        if !rest.is_empty() && !default_body {
            return Err("unexpected tokens after a function's parameters".to_owned());
        }
        let name = tokens[..open]
            .last()
            .and_then(Token::ident)
            .ok_or("a function without a name")?
            .to_owned();
        if open == 1 {
            if name != owner_short {
                return Err(format!("{name}(...) has no return type"));
            }
            return Ok(Member::Constructor(params));
        }
        let (ret, after) = read_type(tokens, 0).ok_or("a function without a return type")?;
        if after != open - 1 {
            return Err(format!("cannot read the return type of {name}"));
        }
        return Ok(Member::Function(Function {
            name,
            ret,
            params,
            default_body,
        }));
    }
    let (mut ty, next) = read_type(tokens, 0).ok_or("a field without a type")?;
    let name = tokens
        .get(next)
        .and_then(Token::ident)
        .ok_or("a field without a name")?
        .to_owned();
    let rest = &tokens[next + 1..];
    if rest.len() == 2 && rest[0].is("[") && rest[1].is("]") {
        ty.push_str("[]");
    } else if !rest.is_empty() {
        return Err(format!("unexpected tokens after field {name}"));
    }
    Ok(Member::Field(name, ty))
}

/// Groups tokens by the line they start on.
fn by_line(tokens: &[Token]) -> Vec<&[Token]> {
    let mut lines: Vec<&[Token]> = Vec::new();
    let mut start = 0;
    for i in 1..=tokens.len() {
        if i == tokens.len() || tokens[i].line != tokens[start].line {
            lines.push(&tokens[start..i]);
            start = i;
        }
    }
    lines
}

impl Catalog {
    /// The interface whose qualified name ends in `short`.
    pub(crate) fn interface_by_short(&self, short: &str) -> Option<&Interface> {
        self.interfaces
            .values()
            .find(|iface| short_name(&iface.name) == short)
    }

    /// The function `name` of interface `qualified` or of the interfaces it extends.
    pub(crate) fn function(&self, qualified: &str, name: &str) -> Option<&Function> {
        let mut current = self.interfaces.get(qualified);
        while let Some(iface) = current {
            if let Some(f) = iface.functions.iter().find(|f| f.name == name) {
                return Some(f);
            }
            current = iface.extends.as_ref().and_then(|e| self.interfaces.get(e));
        }
        None
    }

    /// Every function of interface `qualified`, those it extends included.
    pub(crate) fn all_functions(&self, qualified: &str) -> Vec<&Function> {
        let mut functions = Vec::new();
        let mut current = self.interfaces.get(qualified);
        while let Some(iface) = current {
            functions.extend(iface.functions.iter());
            current = iface.extends.as_ref().and_then(|e| self.interfaces.get(e));
        }
        functions
    }

    fn add_member(&mut self, block: &Block, member: Member, origin: &str) -> Result<(), String> {
        match block {
            Block::Interface(name) => {
                let iface = self.interfaces.get_mut(name).ok_or("no interface block")?;
                match member {
                    Member::Function(f) => {
                        if iface.functions.iter().any(|g| g.name == f.name) {
                            return Err(format!("{name}.{} declared twice", f.name));
                        }
                        iface.functions.push(f);
                    }
                    Member::Constructor(params) => iface.constructors.push(params),
                    Member::Const(c) => iface.consts.push(c),
                    Member::Field(field, _) => {
                        return Err(format!("interface {name} cannot have field {field}"));
                    }
                }
            }
            Block::Data(name) => {
                let data = self.data.get_mut(name).ok_or("no data block")?;
                match member {
                    Member::Field(field, ty) => data.fields.push((field, ty)),
                    Member::Const(c) => data.consts.push(c),
                    Member::Function(_) | Member::Constructor(_) => {
                        return Err(format!("data {name} cannot have functions ({origin})"));
                    }
                }
            }
        }
        Ok(())
    }

    fn open_interface(&mut self, name: &str, extends: Option<String>, origin: &str) {
        let iface = self
            .interfaces
            .entry(name.to_owned())
            .or_insert_with(|| Interface {
                name: name.to_owned(),
                ..Interface::default()
            });
        if extends.is_some() {
            iface.extends = extends;
        }
        iface.origins.push(origin.to_owned());
    }

    fn open_data(&mut self, name: &str, origin: &str) -> Result<(), String> {
        if self.data.contains_key(name) {
            return Err(format!("data {name} declared twice"));
        }
        self.data.insert(
            name.to_owned(),
            DataType {
                name: name.to_owned(),
                origin: origin.to_owned(),
                ..DataType::default()
            },
        );
        Ok(())
    }

    /// Reads the facts file (`dana/stdlib-signatures.txt`; its header describes the format).
    ///
    /// # Errors
    /// On a line it cannot read, with its number.
    pub(crate) fn add_fixture(&mut self, text: &str) -> Result<(), String> {
        let mut source: Option<String> = None;
        let mut block: Option<Block> = None;
        for (n, line) in text.lines().enumerate() {
            let at = |e: String| format!("stdlib-signatures.txt:{}: {e}", n + 1);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("source ") {
                source = Some(rest.to_owned());
                block = None;
                continue;
            }
            let origin = source
                .clone()
                .ok_or_else(|| at("a block before any source line".to_owned()))?;
            let words: Vec<&str> = line.split_whitespace().collect();
            if !line.starts_with([' ', '\t']) {
                match words.as_slice() {
                    ["interface", name] => {
                        self.open_interface(name, None, &origin);
                        block = Some(Block::Interface((*name).to_owned()));
                    }
                    ["interface", name, "extends", parent] => {
                        self.open_interface(name, Some((*parent).to_owned()), &origin);
                        block = Some(Block::Interface((*name).to_owned()));
                    }
                    ["data", name, "in", file] => {
                        self.open_data(name, &format!("{file}, {origin}"))
                            .map_err(at)?;
                        block = Some(Block::Data((*name).to_owned()));
                    }
                    _ => return Err(at(format!("cannot read {line:?}"))),
                }
                continue;
            }
            let current = block
                .clone()
                .ok_or_else(|| at("a member outside a block".to_owned()))?;
            let tokens = lex(line).map_err(at)?;
            let member = parse_member(&tokens, current.short()).map_err(at)?;
            self.add_member(&current, member, &origin).map_err(at)?;
        }
        Ok(())
    }

    /// Reads one of the project's interface files; `path` is relative to `dana/resources/`
    /// (`coordinator/Coordinator.dn` declares `coordinator.Coordinator`).
    ///
    /// # Errors
    /// When the file does not declare the interface its path names, or a member cannot be read.
    pub(crate) fn add_interface_file(&mut self, path: &str, text: &str) -> Result<(), String> {
        let at = |e: String| format!("resources/{path}: {e}");
        let qualified = path
            .strip_suffix(".dn")
            .ok_or_else(|| at("not a .dn file".to_owned()))?
            .replace('/', ".");
        let tokens = lex(text).map_err(at)?;
        let mut i = 0;
        let mut found = false;
        while i < tokens.len() {
            let (block, open) = if tokens[i].is_word("interface") {
                let name = tokens
                    .get(i + 1)
                    .and_then(Token::ident)
                    .ok_or_else(|| at("interface without a name".to_owned()))?;
                if name != short_name(&qualified) {
                    return Err(at(format!("declares {name}, its path names {qualified}")));
                }
                let (extends, open) = if tokens.get(i + 2).is_some_and(|t| t.is_word("extends")) {
                    let (parent, next) = read_type(&tokens, i + 3)
                        .ok_or_else(|| at("extends without a name".to_owned()))?;
                    (Some(parent), next)
                } else {
                    (None, i + 2)
                };
                self.open_interface(&qualified, extends, &format!("dana/resources/{path}"));
                found = true;
                (Block::Interface(qualified.clone()), open)
            } else if tokens[i].is_word("data") {
                let name = tokens
                    .get(i + 1)
                    .and_then(Token::ident)
                    .ok_or_else(|| at("data without a name".to_owned()))?;
                let mut open = i + 2;
                if tokens.get(open).is_some_and(|t| t.is_word("nocycle")) {
                    open += 1;
                }
                self.open_data(name, &format!("dana/resources/{path}"))
                    .map_err(at)?;
                (Block::Data(name.to_owned()), open)
            } else {
                i += 1;
                continue;
            };
            let close = matching(&tokens, open).ok_or_else(|| at("block not closed".to_owned()))?;
            for line in by_line(&tokens[open + 1..close]) {
                let member = parse_member(line, block.short())
                    .map_err(|e| at(format!("line {}: {e}", line[0].line)))?;
                self.add_member(&block, member, path).map_err(at)?;
            }
            i = close + 1;
        }
        if found {
            Ok(())
        } else {
            Err(at(format!("no interface {}", short_name(&qualified))))
        }
    }

    /// Checks that every interface's `extends` names an interface the catalog holds.
    ///
    /// # Errors
    /// The interfaces that extend one the catalog does not hold.
    pub(crate) fn check_extends(&self) -> Result<(), Vec<String>> {
        let errors: Vec<String> = self
            .interfaces
            .values()
            .filter_map(|iface| {
                let parent = iface.extends.as_ref()?;
                (!self.interfaces.contains_key(parent))
                    .then(|| format!("{} extends unknown interface {parent}", iface.name))
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// The block a member line belongs to.
#[derive(Clone)]
enum Block {
    Interface(String),
    Data(String),
}

impl Block {
    fn short(&self) -> &str {
        match self {
            Self::Interface(name) | Self::Data(name) => short_name(name),
        }
    }
}

/// Dana's primitive types.
const PRIMITIVES: &[&str] = &[
    "void", "bool", "byte", "char", "int", "dec", "int1", "int2", "int4", "int8", "int16", "int32",
    "int64", "int128", "dec1", "dec2", "dec4", "dec8",
];

/// Words that are never a variable, a type or one of the component's functions.
const KEYWORDS: &[&str] = &[
    "if",
    "else",
    "while",
    "for",
    "return",
    "break",
    "continue",
    "new",
    "throw",
    "true",
    "false",
    "null",
    "this",
    "asynch",
    "mutex",
    "typeof",
    "clone",
    "const",
    "data",
    "component",
    "provides",
    "requires",
    "interface",
    "uses",
    "opt",
    "store",
    "isset",
    "nameof",
    "eventsink",
    "sinkevent",
    "emitevent",
    "stopevent",
    "INT_MAX",
];

/// What a call reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Function `function` of interface `interface` (qualified), on a required instance or an
    /// object.
    Interface {
        /// Qualified interface name.
        interface: String,
        /// Function name.
        function: String,
    },
    /// One of the component's own functions, run on a thread of its own when `asynch`.
    Local {
        /// Function name.
        function: String,
        /// Called as `asynch::function(...)`.
        asynch: bool,
    },
}

/// One call found in a component.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// What it calls.
    pub(crate) target: Target,
    /// The component function it is made in: `name` for its own functions, `Iface:name` for
    /// implementations, `Iface:Iface` for constructors.
    pub(crate) within: Option<String>,
    /// Its line.
    pub(crate) line: usize,
}

/// What checking one file found.
#[derive(Debug, Default)]
pub(crate) struct FileReport {
    /// Everything wrong, each as `path:line: message`.
    pub(crate) errors: Vec<String>,
    /// Interfaces the component provides (qualified).
    pub(crate) provides: Vec<String>,
    /// Interfaces it requires (qualified) and the instance name, if any.
    pub(crate) requires: Vec<(String, Option<String>)>,
    /// Every call it makes.
    pub(crate) calls: Vec<Call>,
    /// Every data field read, as (data type, field).
    pub(crate) fields: BTreeSet<(String, String)>,
    /// Every constant read, as (type, constant).
    pub(crate) consts: BTreeSet<(String, String)>,
}

/// How a name is known inside a component.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// A value of this type (`char[]`, `HTTPResponse`, `MainAppLoop`).
    Value(String),
    /// A type's name, before `.CONSTANT`.
    TypeName(String),
}

/// A function the component defines.
#[derive(Debug, Clone)]
struct Defined {
    /// `name`, `Iface:name` or `Iface:Iface`.
    label: String,
    /// The interface it implements, for `Iface:name`.
    implements: Option<String>,
    function: Function,
    /// Token indices of its body, braces excluded.
    body: Range<usize>,
    line: usize,
}

struct Checker<'a> {
    catalog: &'a Catalog,
    path: &'a str,
    /// Data types: the catalog's and the file's own.
    data: BTreeMap<String, DataType>,
    /// Instances of required interfaces: name -> qualified interface.
    instances: BTreeMap<String, String>,
    /// Declared variables, parameters and constants: name -> type.
    variables: BTreeMap<String, String>,
    /// The component's own functions by name.
    locals: BTreeMap<String, Function>,
    defined: Vec<Defined>,
    /// Token indices that declare something (types and names), not to be read as expressions.
    declaring: BTreeSet<usize>,
    report: FileReport,
}

impl Checker<'_> {
    fn error(&mut self, line: usize, message: impl Into<String>) {
        self.report
            .errors
            .push(format!("{}:{line}: {}", self.path, message.into()));
    }

    /// Whether `name` names a type a declaration can start with.
    fn is_type(&self, name: &str) -> bool {
        PRIMITIVES.contains(&name)
            || self.data.contains_key(name)
            || self.catalog.interface_by_short(name).is_some()
    }

    fn declare(&mut self, name: &str, ty: &str, line: usize) {
        match self.variables.get(name) {
            Some(previous) if previous != ty => {
                let message = format!(
                    "{name} is declared as {previous} and as {ty} in one file; \
                     give one of them another name"
                );
                self.error(line, message);
            }
            _ => {
                self.variables.insert(name.to_owned(), ty.to_owned());
            }
        }
    }

    fn within(&self, index: usize) -> Option<String> {
        self.defined
            .iter()
            .find(|d| d.body.contains(&index))
            .map(|d| d.label.clone())
    }

    /// Checks `count` arguments against `params`.
    fn check_arity(&mut self, what: &str, params: &[Param], count: usize, line: usize) {
        let (least, most) = arity(params);
        if count < least || count > most {
            let expected = if least == most {
                format!("{least}")
            } else {
                format!("{least} to {most}")
            };
            self.error(
                line,
                format!("{what} takes {expected} arguments, called with {count}"),
            );
        }
    }
}

/// The number of arguments between `tokens[open]` `(` and `tokens[close]` `)`.
fn argument_count(tokens: &[Token], open: usize, close: usize) -> usize {
    split_commas(&tokens[open + 1..close]).len()
}

/// Checks one `.dn` file of the project; `path` is how errors name it.
pub(crate) fn check_file(catalog: &Catalog, path: &str, source: &str) -> FileReport {
    let mut checker = Checker {
        catalog,
        path,
        data: catalog.data.clone(),
        instances: BTreeMap::new(),
        variables: BTreeMap::new(),
        locals: BTreeMap::new(),
        defined: Vec::new(),
        declaring: BTreeSet::new(),
        report: FileReport::default(),
    };
    let tokens = match lex(source) {
        Ok(tokens) => tokens,
        Err(e) => {
            checker.error(0, e);
            return checker.report;
        }
    };
    for token in &tokens {
        if token.is_word("throw") {
            checker.error(
                token.line,
                "throw: a Dana exception cannot be caught; the function returns its default \
                 value to a caller that carries on. Return a value that says the call failed \
                 and record why (lastError) instead",
            );
        }
    }
    let Some(component) = tokens.iter().position(|t| t.is_word("component")) else {
        // An interface file: read into the catalog by `Catalog::add_interface_file`.
        return checker.report;
    };
    read_file_level(&mut checker, &tokens[..component]);
    let Some(open) = tokens
        .iter()
        .skip(component)
        .position(|t| t.is("{"))
        .map(|p| p + component)
    else {
        checker.error(tokens[component].line, "component without a body");
        return checker.report;
    };
    read_header(&mut checker, &tokens[component + 1..open]);
    let Some(close) = matching(&tokens, open) else {
        checker.error(tokens[open].line, "component body not closed");
        return checker.report;
    };
    read_declarations(&mut checker, &tokens, open + 1..close);
    check_expressions(&mut checker, &tokens, open + 1..close, None);
    check_implementations(&mut checker);
    checker.report
}

/// `data` blocks and `const` declarations before the component.
fn read_file_level(checker: &mut Checker<'_>, tokens: &[Token]) {
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].is_word("data") {
            let Some(name) = tokens.get(i + 1).and_then(Token::ident) else {
                checker.error(tokens[i].line, "data without a name");
                return;
            };
            let mut open = i + 2;
            if tokens.get(open).is_some_and(|t| t.is_word("nocycle")) {
                open += 1;
            }
            let Some(close) = matching(tokens, open) else {
                checker.error(tokens[i].line, format!("data {name} not closed"));
                return;
            };
            let mut data = DataType {
                name: name.to_owned(),
                origin: checker.path.to_owned(),
                ..DataType::default()
            };
            for line in by_line(&tokens[open + 1..close]) {
                match parse_member(line, name) {
                    Ok(Member::Field(field, ty)) => data.fields.push((field, ty)),
                    Ok(Member::Const(c)) => data.consts.push(c),
                    Ok(_) => checker.error(line[0].line, format!("data {name} has a function")),
                    Err(e) => checker.error(line[0].line, e),
                }
            }
            if checker.data.insert(name.to_owned(), data).is_some() {
                checker.error(tokens[i].line, format!("data {name} is declared again"));
            }
            i = close + 1;
        } else if tokens[i].is_word("const") {
            if let Some((ty, next)) = read_type(tokens, i + 1)
                && let Some(name) = tokens.get(next).and_then(Token::ident)
            {
                let name = name.to_owned();
                checker.declare(&name, &ty, tokens[i].line);
            }
            i += 1;
        } else {
            i += 1;
        }
    }
}

/// `provides A, B requires T name, U ...`.
fn read_header(checker: &mut Checker<'_>, tokens: &[Token]) {
    let requires = tokens.iter().position(|t| t.is_word("requires"));
    let provides_end = requires.unwrap_or(tokens.len());
    let line = tokens.first().map_or(0, |t| t.line);
    match tokens.first() {
        Some(t) if t.is_word("provides") => {
            for part in split_commas(&tokens[1..provides_end]) {
                match read_type(part, 0) {
                    Some((name, end)) if end == part.len() => {
                        if !checker.catalog.interfaces.contains_key(&name) {
                            checker.error(
                                part[0].line,
                                format!(
                                    "provides {name}: no such interface in \
                                     dana/stdlib-signatures.txt or dana/resources/"
                                ),
                            );
                        }
                        checker.report.provides.push(name);
                    }
                    _ => checker.error(line, "cannot read a provided interface"),
                }
            }
        }
        _ => checker.error(line, "component without provides"),
    }
    let Some(requires) = requires else { return };
    for part in split_commas(&tokens[requires + 1..]) {
        let Some((name, end)) = read_type(part, 0) else {
            checker.error(line, "cannot read a required interface");
            continue;
        };
        let instance = match &part[end..] {
            [] => None,
            [t] if t.ident().is_some() => t.ident().map(str::to_owned),
            _ => {
                checker.error(part[0].line, format!("cannot read requires {name} ..."));
                continue;
            }
        };
        if !checker.catalog.interfaces.contains_key(&name) {
            checker.error(
                part[0].line,
                format!(
                    "requires {name}: no such interface in dana/stdlib-signatures.txt or \
                     dana/resources/"
                ),
            );
        }
        if let Some(instance) = &instance {
            checker.instances.insert(instance.clone(), name.clone());
        }
        checker.report.requires.push((name, instance));
    }
}

/// Functions, implementations, constructors, variables and parameters of the component body.
fn read_declarations(checker: &mut Checker<'_>, tokens: &[Token], body: Range<usize>) {
    let mut i = body.start;
    while i < body.end {
        let token = &tokens[i];
        let Some(word) = token.ident() else {
            i += 1;
            continue;
        };
        let after_dot = i > 0 && (tokens[i - 1].is(".") || tokens[i - 1].is("::"));
        // Iface:Iface(...) { }, a constructor
        if !after_dot
            && tokens.get(i + 1).is_some_and(|t| t.is(":"))
            && tokens.get(i + 2).and_then(Token::ident) == Some(word)
            && tokens.get(i + 3).is_some_and(|t| t.is("("))
            && !(i > 0 && tokens[i - 1].ident().is_some_and(|w| checker.is_type(w)))
        {
            define(checker, tokens, i, i + 2, None, Some(word.to_owned()));
            i += 3;
            continue;
        }
        if after_dot || KEYWORDS.contains(&word) || !checker.is_type(word) {
            i += 1;
            continue;
        }
        // Declarations in a component name their type plainly: `Coordinator.X` is a constant.
        if tokens.get(i + 1).is_some_and(|t| t.is(".")) {
            i += 1;
            continue;
        }
        let Some((ty, next)) = read_type(tokens, i) else {
            i += 1;
            continue;
        };
        let Some(name) = tokens.get(next).and_then(Token::ident) else {
            i += 1;
            continue;
        };
        if KEYWORDS.contains(&name) {
            i += 1;
            continue;
        }
        let name = name.to_owned();
        // RET Iface:function(...) { }
        if tokens.get(next + 1).is_some_and(|t| t.is(":")) {
            if tokens.get(next + 2).and_then(Token::ident).is_some()
                && tokens.get(next + 3).is_some_and(|t| t.is("("))
            {
                define(checker, tokens, i, next + 2, Some(ty), Some(name));
                i = next + 3;
                continue;
            }
            i = next + 1;
            continue;
        }
        // RET function(...) { }
        if tokens.get(next + 1).is_some_and(|t| t.is("(")) {
            define(checker, tokens, i, next, Some(ty), None);
            i = next + 1;
            continue;
        }
        // TYPE name, TYPE name[]
        let mut ty = ty;
        if tokens.get(next + 1).is_some_and(|t| t.is("["))
            && tokens.get(next + 2).is_some_and(|t| t.is("]"))
        {
            ty.push_str("[]");
        }
        checker.declaring.extend(i..=next);
        checker.declare(&name, &ty, token.line);
        i = next + 1;
    }
}

/// Records a function definition that starts at `tokens[start]` (its return type, or the
/// interface name of a constructor) and whose name is `tokens[name]`, its parameters following.
fn define(
    checker: &mut Checker<'_>,
    tokens: &[Token],
    start: usize,
    name: usize,
    ret: Option<String>,
    implements: Option<String>,
) {
    let line = tokens[name].line;
    let open = name + 1;
    let (params, close) = match parse_params(tokens, open) {
        Ok(parsed) => parsed,
        Err(e) => {
            checker.error(line, e);
            return;
        }
    };
    for param in &params {
        checker.declare(&param.name, &param.ty, line);
    }
    checker.declaring.extend(start..=close);
    let Some(body_open) = tokens
        .get(close + 1)
        .filter(|t| t.is("{"))
        .map(|_| close + 1)
    else {
        checker.error(line, "a function without a body");
        return;
    };
    let Some(body_close) = matching(tokens, body_open) else {
        checker.error(line, "a function body not closed");
        return;
    };
    let function_name = tokens[name].ident().unwrap_or_default().to_owned();
    let function = Function {
        name: function_name.clone(),
        ret: ret.unwrap_or_default(),
        params,
        default_body: false,
    };
    let label = match &implements {
        Some(iface) => format!("{iface}:{function_name}"),
        None => function_name.clone(),
    };
    if implements.is_none() {
        if checker.locals.contains_key(&function_name) {
            checker.error(line, format!("function {function_name} is defined twice"));
        }
        checker
            .locals
            .insert(function_name.clone(), function.clone());
    }
    checker.defined.push(Defined {
        label,
        implements,
        function,
        body: body_open + 1..body_close,
        line,
    });
}

/// Every expression of the component body: calls, fields, constants, `new`, interpolations.
/// `string_at` is `None` for the body's own tokens, and for the tokens of a `$(...)` inside a
/// string the index of that string in the body.
fn check_expressions(
    checker: &mut Checker<'_>,
    tokens: &[Token],
    range: Range<usize>,
    string_at: Option<usize>,
) {
    let mut i = range.start;
    while i < range.end {
        if let Tok::Str(string) = &tokens[i].tok {
            let line = tokens[i].line;
            for var in &string.vars {
                if !checker.variables.contains_key(var) {
                    checker.error(line, format!("${var} interpolates an undeclared name"));
                }
            }
            for expr in &string.exprs {
                check_expressions(checker, expr, 0..expr.len(), Some(string_at.unwrap_or(i)));
            }
            i += 1;
            continue;
        }
        let declaring = string_at.is_none() && checker.declaring.contains(&i);
        if !declaring && tokens[i].ident().is_some() {
            let previous = i.checked_sub(1).map(|p| &tokens[p]);
            let in_chain = previous.is_some_and(|t| t.is(".") || t.is("::") || t.is_word("new"));
            if !in_chain {
                check_chain(checker, tokens, i, range.end, string_at.unwrap_or(i));
            }
        }
        i += 1;
    }
}

/// The element type of an array type.
fn element(ty: &str) -> Option<&str> {
    ty.strip_suffix("[]")
}

/// Follows `root.member(...)[...].member ...` from `tokens[start]`, checking each step; `at`
/// is where the expression is in the component body (to name the function it is in).
fn check_chain(checker: &mut Checker<'_>, tokens: &[Token], start: usize, end: usize, at: usize) {
    let token = &tokens[start];
    let line = token.line;
    let Some(word) = token.ident() else { return };
    let next = |i: usize| tokens.get(i).filter(|_| i < end);
    let mut i = start + 1;

    let mut kind: Option<Kind> = if word == "new" {
        let Some(ty) = next(i).and_then(Token::ident) else {
            return;
        };
        let ty = ty.to_owned();
        if next(i + 1).is_some_and(|t| t.is("(")) {
            let Some(close) = matching(tokens, i + 1) else {
                return;
            };
            let count = argument_count(tokens, i + 1, close);
            check_new(checker, &ty, count, line);
            i = close + 1;
        } else {
            // `new T[](...)` or `new T[n]`: an array
            return;
        }
        Some(Kind::Value(ty))
    } else if word == "asynch" {
        if next(i).is_some_and(|t| t.is("::"))
            && let Some(function) = next(i + 1).and_then(Token::ident)
            && next(i + 2).is_some_and(|t| t.is("("))
        {
            let function = function.to_owned();
            let Some(close) = matching(tokens, i + 2) else {
                return;
            };
            let count = argument_count(tokens, i + 2, close);
            call_local(checker, &function, count, true, at, line);
        } else {
            checker.error(line, "asynch without a function call");
        }
        return;
    } else if KEYWORDS.contains(&word) {
        return;
    } else if next(i).is_some_and(|t| t.is("(")) {
        let Some(close) = matching(tokens, i) else {
            return;
        };
        let count = argument_count(tokens, i, close);
        let ret = call_local(checker, word, count, false, at, line);
        i = close + 1;
        ret.map(Kind::Value)
    } else if let Some(iface) = checker.instances.get(word) {
        Some(Kind::Value(short_name(iface).to_owned()))
    } else if let Some(ty) = checker.variables.get(word) {
        Some(Kind::Value(ty.clone()))
    } else if checker.is_type(word) {
        Some(Kind::TypeName(word.to_owned()))
    } else {
        checker.error(
            line,
            format!(
                "{word} is not declared: no variable, constant, instance or type has this name"
            ),
        );
        return;
    };

    loop {
        if next(i).is_some_and(|t| t.is("[")) {
            let Some(close) = matching(tokens, i) else {
                return;
            };
            kind = match kind {
                Some(Kind::Value(ty)) => match element(&ty) {
                    Some(e) => Some(Kind::Value(e.to_owned())),
                    None => {
                        checker.error(line, format!("indexing {ty}, which is not an array"));
                        return;
                    }
                },
                _ => None,
            };
            i = close + 1;
            continue;
        }
        if !next(i).is_some_and(|t| t.is(".")) {
            return;
        }
        let Some(member) = next(i + 1).and_then(Token::ident) else {
            return;
        };
        let member = member.to_owned();
        let Some(current) = kind.take() else {
            let root: String = tokens[start..i]
                .iter()
                .filter_map(Token::ident)
                .collect::<Vec<_>>()
                .join("..");
            checker.error(
                line,
                format!("cannot tell what {root} is, so .{member} cannot be checked"),
            );
            return;
        };
        let is_call = next(i + 2).is_some_and(|t| t.is("("));
        match current {
            Kind::TypeName(ty) => {
                if is_call {
                    checker.error(line, format!("{ty}.{member}(...) calls a type"));
                    return;
                }
                let known = if let Some(data) = checker.data.get(&ty) {
                    data.consts.contains(&member)
                } else if let Some(iface) = checker.catalog.interface_by_short(&ty) {
                    interface_consts(checker.catalog, &iface.name).contains(&member)
                } else {
                    false
                };
                if !known {
                    checker.error(line, format!("{ty} has no constant {member}"));
                    return;
                }
                checker.report.consts.insert((ty, member));
                // a constant's type is not recorded; nothing follows it here
                return;
            }
            Kind::Value(ty) => {
                if is_call {
                    let Some(iface) = checker.catalog.interface_by_short(&ty) else {
                        checker.error(
                            line,
                            format!("{ty} is not an interface; .{member}(...) cannot be called"),
                        );
                        return;
                    };
                    let qualified = iface.name.clone();
                    let Some(function) = checker.catalog.function(&qualified, &member).cloned()
                    else {
                        checker.error(line, format!("{qualified} has no function {member}"));
                        return;
                    };
                    let open = i + 2;
                    let Some(close) = matching(tokens, open) else {
                        return;
                    };
                    let count = argument_count(tokens, open, close);
                    checker.check_arity(
                        &format!("{qualified}.{member}"),
                        &function.params,
                        count,
                        line,
                    );
                    let within = checker.within(at);
                    checker.report.calls.push(Call {
                        target: Target::Interface {
                            interface: qualified,
                            function: member,
                        },
                        within,
                        line,
                    });
                    kind = Some(Kind::Value(function.ret));
                    i = close + 1;
                } else if element(&ty).is_some() {
                    if member != "arrayLength" {
                        checker.error(line, format!("an array ({ty}) has no field {member}"));
                        return;
                    }
                    kind = Some(Kind::Value("int".to_owned()));
                    i += 2;
                } else if let Some(data) = checker.data.get(&ty) {
                    let Some((_, field_ty)) = data.fields.iter().find(|(f, _)| *f == member) else {
                        checker.error(line, format!("{ty} has no field {member}"));
                        return;
                    };
                    let field_ty = field_ty.clone();
                    checker.report.fields.insert((ty, member));
                    kind = Some(Kind::Value(field_ty));
                    i += 2;
                } else {
                    checker.error(
                        line,
                        format!("{ty} has no fields; .{member} cannot be read"),
                    );
                    return;
                }
            }
        }
    }
}

/// Constants of an interface and of those it extends.
fn interface_consts(catalog: &Catalog, qualified: &str) -> Vec<String> {
    let mut consts = Vec::new();
    let mut current = catalog.interfaces.get(qualified);
    while let Some(iface) = current {
        consts.extend(iface.consts.iter().cloned());
        current = iface
            .extends
            .as_ref()
            .and_then(|e| catalog.interfaces.get(e));
    }
    consts
}

/// `new ty(count arguments)`: a data type (at most one argument per field) or an interface
/// with a constructor that takes them.
fn check_new(checker: &mut Checker<'_>, ty: &str, count: usize, line: usize) {
    if let Some(data) = checker.data.get(ty) {
        if count > data.fields.len() {
            let fields = data.fields.len();
            checker.error(
                line,
                format!("new {ty}(...) with {count} values; {ty} has {fields} fields"),
            );
        }
        return;
    }
    let Some(iface) = checker.catalog.interface_by_short(ty) else {
        checker.error(
            line,
            format!("new {ty}(...): no such data type or interface"),
        );
        return;
    };
    let constructors = iface.constructors.clone();
    if constructors.is_empty() {
        if count > 0 {
            checker.error(line, format!("new {ty}(...): {ty} declares no constructor"));
        }
        return;
    }
    if !constructors.iter().any(|params| {
        let (least, most) = arity(params);
        (least..=most).contains(&count)
    }) {
        checker.error(
            line,
            format!("new {ty}(...) with {count} arguments: no constructor of {ty} takes them"),
        );
    }
}

/// A call of the component's own function `name`; its return type when it is one.
fn call_local(
    checker: &mut Checker<'_>,
    name: &str,
    count: usize,
    asynch: bool,
    at: usize,
    line: usize,
) -> Option<String> {
    let Some(function) = checker.locals.get(name).cloned() else {
        checker.error(
            line,
            format!("{name}(...) calls no function of this component"),
        );
        return None;
    };
    checker.check_arity(name, &function.params, count, line);
    let within = checker.within(at);
    checker.report.calls.push(Call {
        target: Target::Local {
            function: name.to_owned(),
            asynch,
        },
        within,
        line,
    });
    Some(function.ret)
}

/// Each provided interface is implemented with its declared signatures, and every `X:f` the
/// component defines belongs to one of them.
fn check_implementations(checker: &mut Checker<'_>) {
    let provided: Vec<String> = checker.report.provides.clone();
    let defined = checker.defined.clone();
    for definition in defined.iter().filter(|d| d.implements.is_some()) {
        let iface_short = definition.implements.clone().unwrap_or_default();
        let Some(qualified) = provided
            .iter()
            .find(|p| short_name(p) == iface_short)
            .cloned()
        else {
            checker.error(
                definition.line,
                format!(
                    "{} implements {iface_short}, which the component does not provide",
                    definition.label
                ),
            );
            continue;
        };
        let name = &definition.function.name;
        if *name == iface_short {
            let declared = checker
                .catalog
                .interfaces
                .get(&qualified)
                .map(|i| i.constructors.clone())
                .unwrap_or_default();
            if !declared.contains(&definition.function.params) {
                checker.error(
                    definition.line,
                    format!(
                        "constructor {}: {qualified} declares no constructor with these parameters",
                        definition.label
                    ),
                );
            }
            continue;
        }
        match checker.catalog.function(&qualified, name).cloned() {
            None => checker.error(
                definition.line,
                format!("{}: {qualified} has no function {name}", definition.label),
            ),
            Some(declared) => {
                if declared.ret != definition.function.ret
                    || declared.params != definition.function.params
                {
                    checker.error(
                        definition.line,
                        format!(
                            "{} does not match {qualified}: declared {} {name}({}), defined {} {name}({})",
                            definition.label,
                            declared.ret,
                            describe(&declared.params),
                            definition.function.ret,
                            describe(&definition.function.params)
                        ),
                    );
                }
            }
        }
    }
    for qualified in &provided {
        let short = short_name(qualified).to_owned();
        let functions: Vec<Function> = checker
            .catalog
            .all_functions(qualified)
            .into_iter()
            .cloned()
            .collect();
        for function in functions.iter().filter(|f| !f.default_body) {
            let label = format!("{short}:{}", function.name);
            if !defined.iter().any(|d| d.label == label) {
                checker.error(0, format!("{qualified}: {label} is not implemented"));
            }
        }
        let has_constructor = checker
            .catalog
            .interfaces
            .get(qualified)
            .is_some_and(|i| !i.constructors.is_empty());
        if has_constructor
            && !defined
                .iter()
                .any(|d| d.label == format!("{short}:{short}"))
        {
            checker.error(
                0,
                format!("{qualified}: its constructor is not implemented"),
            );
        }
    }
}

/// A parameter list as Dana writes it, for messages.
fn describe(params: &[Param]) -> String {
    params
        .iter()
        .map(|p| {
            let opt = if p.opt { "opt " } else { "" };
            format!("{opt}{} {}", p.ty, p.name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}
