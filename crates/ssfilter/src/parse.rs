//! Words to tokens to a [`Filter`], following iproute2's `misc/ssfilter.y`
//! (grammar and tokens) and `misc/ss.c` (`state`/`exclude` words,
//! `scan_state`); a condition's address and port words are `hostcond.rs`'s.

use super::hostcond::{host, port_spec, HostAddr, Refusal};
use super::suggest::{self, STATE_WORDS};
use super::{set_word, BinOp, End, Expr, Filter, FilterError, PortOp, Prefix};
use crate::names::{HostAddrs, Names};
use crate::{State, StateSet};

/// How deep parentheses and `not` may nest: bounds the recursion of the
/// parser, the evaluator and `Drop` whatever the input.
const MAX_DEPTH: usize = 100;

/// The state names `ss` knows, listed in errors.
const STATE_NAMES: &str = "established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, \
     closed, close-wait, last-ack, listening, closing, or a group: all, connected, synchronized, \
     bucket, big";

/// One token and where it came from.
#[derive(Clone, Copy, Debug)]
struct Tok<'a> {
    text: &'a str,
    word: usize,
    offset: usize,
}

/// What a token means to the grammar (`yylex` in `ssfilter.y`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    LParen,
    RParen,
    Not,
    Bin(BinOp),
    Op(PortOp),
    Src,
    Dst,
    Sport,
    Dport,
    State,
    Exclude,
    /// An `ss` condition tcpdrop does not evaluate.
    Unsupported,
    Word,
}

fn kind(text: &str) -> Kind {
    match text {
        "(" => Kind::LParen,
        ")" => Kind::RParen,
        "!" | "not" => Kind::Not,
        "&" | "&&" | "and" => Kind::Bin(BinOp::And),
        "|" | "||" | "or" => Kind::Bin(BinOp::Or),
        "=" | "==" | "eq" => Kind::Op(PortOp::Eq),
        "!=" | "ne" | "neq" => Kind::Op(PortOp::Ne),
        "<" | "lt" => Kind::Op(PortOp::Lt),
        ">" | "gt" => Kind::Op(PortOp::Gt),
        "<=" | "le" | "leq" => Kind::Op(PortOp::Le),
        ">=" | "ge" | "geq" => Kind::Op(PortOp::Ge),
        "src" => Kind::Src,
        "dst" => Kind::Dst,
        "sport" => Kind::Sport,
        "dport" => Kind::Dport,
        "state" => Kind::State,
        "exclude" | "excl" => Kind::Exclude,
        "dev" | "fwmark" | "cgroup" | "autobound" => Kind::Unsupported,
        _ => Kind::Word,
    }
}

/// Split the words into tokens: at blanks, as `ss` does, and also around
/// the operator characters `( ) ! = < > & |`, which no address, port or
/// state name contains, so `dport=:443` and `(src` work too.
fn lex<S: AsRef<str>>(words: &[S]) -> Vec<Tok<'_>> {
    let mut toks = Vec::new();
    for (word, text) in words.iter().enumerate() {
        let text = text.as_ref();
        let mut start = None;
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let op = matches!(c, '(' | ')' | '!' | '=' | '<' | '>' | '&' | '|');
            if c.is_whitespace() || op {
                if let Some(s) = start.take() {
                    if let Some(t) = text.get(s..i) {
                        toks.push(Tok {
                            text: t,
                            word,
                            offset: s,
                        });
                    }
                }
            }
            if op {
                let next = chars.peek().map(|&(_, n)| n);
                let two = matches!(
                    (c, next),
                    ('=', Some('='))
                        | ('!' | '<' | '>', Some('='))
                        | ('&', Some('&'))
                        | ('|', Some('|'))
                );
                let end = if two {
                    chars.next();
                    i.saturating_add(2)
                } else {
                    i.saturating_add(1)
                };
                if let Some(t) = text.get(i..end) {
                    toks.push(Tok {
                        text: t,
                        word,
                        offset: i,
                    });
                }
            } else if !c.is_whitespace() && start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            if let Some(t) = text.get(s..) {
                toks.push(Tok {
                    text: t,
                    word,
                    offset: s,
                });
            }
        }
    }
    toks
}

struct Parser<'a, 'n> {
    toks: Vec<Tok<'a>>,
    pos: usize,
    /// Where the input ends, for errors about a missing token.
    end: (usize, usize),
    /// Where service and host names are looked up.
    names: &'n Names,
    /// The host names met so far, and what they stood for.
    resolved: Vec<HostAddrs>,
}

pub(super) fn parse<S: AsRef<str>>(
    words: &[S],
    names: &Names,
) -> Result<(Filter, Vec<HostAddrs>), FilterError> {
    let end = words
        .len()
        .checked_sub(1)
        .and_then(|last| words.get(last).map(|w| (last, w.as_ref().len())))
        .unwrap_or((0, 0));
    let mut p = Parser {
        toks: lex(words),
        pos: 0,
        end,
        names,
        resolved: Vec::new(),
    };
    let (states, listening_named) = p.states()?;
    if let (Some(_), Some(Kind::Bin(_))) = (states, p.peek_kind()) {
        // `state established or dport = :80`: ss refuses it too, since
        // leading state words are not part of the expression.
        return Err(p.expected(
            "a condition",
            0,
            " (state words at the start apply to the whole filter; to use a state as a \
             condition, put the expression in parentheses: '( state NAME or ... )')",
        ));
    }
    let expr = match p.peek() {
        None => None,
        Some(_) => Some(p.exprlist(0)?),
    };
    if let Some(tok) = p.peek() {
        // exprlist stops only at the end or at a ')'.
        return Err(p.error_at(Some(tok), "filter: found ')' with no '(' open".to_string()));
    }
    let filter = Filter {
        states,
        listening_named,
        expr,
    };
    Ok((filter, p.resolved))
}

impl<'a> Parser<'a, '_> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).copied()
    }

    fn peek_kind(&self) -> Option<Kind> {
        self.peek().map(|t| kind(t.text))
    }

    fn bump(&mut self) -> Option<Tok<'a>> {
        let tok = self.peek();
        if tok.is_some() {
            self.pos = self.pos.saturating_add(1);
        }
        tok
    }

    fn error_at(&self, tok: Option<Tok<'_>>, message: String) -> FilterError {
        let (word, offset) = tok.map_or(self.end, |t| (t.word, t.offset));
        FilterError {
            message,
            word,
            offset,
        }
    }

    /// The tokens from `from` up to the current one, as the user wrote them.
    fn context(&self, from: usize) -> String {
        self.toks
            .get(from..self.pos)
            .unwrap_or_default()
            .iter()
            .map(|t| t.text)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// "expected WHAT after 'CONTEXT', found 'TOKEN'HINT" at the current token.
    fn expected(&self, what: &str, from: usize, hint: &str) -> FilterError {
        let tok = self.peek();
        let context = self.context(from);
        let after = if context.is_empty() {
            String::new()
        } else {
            format!(" after '{context}'")
        };
        let found = match tok {
            Some(t) => format!("'{}'", t.text),
            None => "the end of the filter".to_string(),
        };
        self.error_at(
            tok,
            format!("filter: expected {what}{after}, found {found}{hint}"),
        )
    }

    /// "expected a state name" at the current token, with the name it most
    /// likely misspells, or else every name.
    fn bad_state(&self, from: usize) -> FilterError {
        let meant = self
            .peek()
            .filter(|t| kind(t.text) == Kind::Word)
            .and_then(|t| suggest::closest(t.text, STATE_WORDS));
        match meant {
            Some((_, meant)) => self.expected(
                "a state name",
                from,
                &format!(": did you mean {}?", meant.join(" or ")),
            ),
            None => self.expected("a state name", from, &format!(" ({STATE_NAMES})")),
        }
    }

    /// An error about the word at the current token: a hint after
    /// "expected WHAT", or the lookup's own message.
    fn refused(&self, what: &str, from: usize, refusal: Refusal) -> FilterError {
        match refusal {
            Refusal::Hint(hint) => self.expected(what, from, &hint),
            Refusal::Name(err) => self.error_at(self.peek(), format!("filter: {err}")),
        }
    }

    /// The leading `state`/`exclude` words (`ss.c` `main`): the first sets
    /// the mask, later ones add or remove. Also whether a `state` word named
    /// `listening` itself and no later `exclude` took it back.
    fn states(&mut self) -> Result<(Option<StateSet>, bool), FilterError> {
        let mut mask: Option<StateSet> = None;
        let mut listening_named = false;
        while let Some(k @ (Kind::State | Kind::Exclude)) = self.peek_kind() {
            let from = self.pos;
            self.bump();
            let set = match self.peek() {
                Some(t) if kind(t.text) == Kind::Word => scan_state(t.text),
                _ => None,
            };
            let Some(set) = set else {
                return Err(self.bad_state(from));
            };
            self.bump();
            if set == StateSet::only(State::Listen) {
                listening_named = k == Kind::State;
            } else if k == Kind::Exclude && set.contains(State::Listen) {
                listening_named = false;
            }
            mask = Some(match k {
                Kind::State => mask.unwrap_or(StateSet::EMPTY).union(set),
                _ => set
                    .iter()
                    .fold(mask.unwrap_or(StateSet::ALL), StateSet::without),
            });
        }
        let listening_named = listening_named && mask.is_some_and(|m| m.contains(State::Listen));
        Ok((mask, listening_named))
    }

    /// `exprlist`: terms joined by `and`/`or` or nothing (`and`), grouped
    /// left to right with equal precedence, as `ssfilter.y` does.
    fn exprlist(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let first = self.expr(depth)?;
        let (first, mut rest) = match first {
            Expr::Seq(first, rest) => (first, rest),
            other => (Box::new(other), Vec::new()),
        };
        loop {
            let op = match self.peek_kind() {
                None | Some(Kind::RParen) => break,
                Some(Kind::Bin(op)) => {
                    let from = self.pos;
                    self.bump();
                    if matches!(self.peek_kind(), None | Some(Kind::RParen | Kind::Bin(_))) {
                        return Err(self.expected("a condition", from, ""));
                    }
                    op
                }
                Some(_) => BinOp::And,
            };
            rest.push((op, self.expr(depth)?));
        }
        Ok(if rest.is_empty() {
            *first
        } else {
            Expr::Seq(first, rest)
        })
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let from = self.pos;
        let Some(tok) = self.peek() else {
            return Err(self.expected(
                "a condition (src, dst, sport, dport, state, not, '(')",
                from,
                "",
            ));
        };
        let deeper = || {
            depth
                .checked_add(1)
                .filter(|d| *d <= MAX_DEPTH)
                .ok_or_else(|| {
                    self.error_at(
                        Some(tok),
                        format!("filter: parentheses and 'not' nest deeper than {MAX_DEPTH}"),
                    )
                })
        };
        match kind(tok.text) {
            Kind::LParen => {
                let depth = deeper()?;
                self.bump();
                if self.peek_kind() == Some(Kind::RParen) {
                    return Err(self.expected("a condition", from, ""));
                }
                let inner = self.exprlist(depth)?;
                if self.peek_kind() != Some(Kind::RParen) {
                    let open = format!(
                        " (to close the '(' of word {} byte {})",
                        tok.word.saturating_add(1),
                        tok.offset
                    );
                    return Err(self.expected("')'", self.pos, &open));
                }
                self.bump();
                Ok(inner)
            }
            Kind::Not => {
                let depth = deeper()?;
                self.bump();
                Ok(Expr::Not(Box::new(self.expr(depth)?)))
            }
            Kind::Src | Kind::Dst => {
                self.bump();
                let end = if kind(tok.text) == Kind::Src {
                    End::Src
                } else {
                    End::Dst
                };
                if self.peek_kind() == Some(Kind::Op(PortOp::Eq)) {
                    self.bump();
                }
                let word = match self.peek() {
                    Some(t) if kind(t.text) == Kind::Word => t.text,
                    _ => return Err(self.expected("an address", from, "")),
                };
                let (addr, port) = match host(word, self.names) {
                    Ok(host) => host,
                    Err(refusal) => return Err(self.refused("an address", from, refusal)),
                };
                self.bump();
                Ok(match addr {
                    HostAddr::Any => Expr::Host {
                        end,
                        addr: None,
                        port,
                    },
                    HostAddr::Prefix(p) => Expr::Host {
                        end,
                        addr: Some(p),
                        port,
                    },
                    HostAddr::Named(found) => {
                        // A name stands for every address it has, as in
                        // ss: `src NAME` is `src A or src B ...`.
                        let mut terms = found.addrs.iter().map(|&ip| Expr::Host {
                            end,
                            addr: Some(Prefix::host(ip)),
                            port,
                        });
                        let first = terms.next();
                        let rest: Vec<(BinOp, Expr)> = terms.map(|t| (BinOp::Or, t)).collect();
                        self.note(found);
                        match first {
                            Some(first) if rest.is_empty() => first,
                            Some(first) => Expr::Seq(Box::new(first), rest),
                            None => {
                                return Err(self.error_at(
                                    Some(tok),
                                    "filter: a host name with no address".to_string(),
                                ))
                            }
                        }
                    }
                })
            }
            Kind::Sport | Kind::Dport => {
                self.bump();
                let end = if kind(tok.text) == Kind::Sport {
                    End::Src
                } else {
                    End::Dst
                };
                let op = match self.peek_kind() {
                    Some(Kind::Op(op)) => {
                        self.bump();
                        op
                    }
                    _ => PortOp::Eq,
                };
                let word = match self.peek() {
                    Some(t) if kind(t.text) == Kind::Word => t.text,
                    _ => return Err(self.expected("':PORT'", from, "")),
                };
                let port = match port_spec(word.strip_prefix(':').unwrap_or(word), self.names) {
                    Ok(port) => port,
                    Err(refusal) => return Err(self.refused("':PORT'", from, refusal)),
                };
                if port.is_none() && !matches!(op, PortOp::Eq | PortOp::Ne) {
                    return Err(self.expected(
                        "':PORT'",
                        from,
                        " (any port, '*', can only be compared with = or !=)",
                    ));
                }
                self.bump();
                Ok(Expr::Port { end, op, port })
            }
            Kind::State | Kind::Exclude => {
                // Inside the expression a state word is a condition
                // (tcpdrop's extension; ss 6.1 refuses it).
                self.bump();
                let set = match self.peek() {
                    Some(t) if kind(t.text) == Kind::Word => scan_state(t.text),
                    _ => None,
                };
                let Some((set, word)) = set.and_then(|set| Some((set, set_word(set)?))) else {
                    return Err(self.bad_state(from));
                };
                self.bump();
                Ok(Expr::State {
                    exclude: kind(tok.text) == Kind::Exclude,
                    set,
                    word,
                })
            }
            Kind::Unsupported => Err(self.error_at(
                Some(tok),
                format!(
                    "filter: ss's '{}' condition is not supported by tcpdrop",
                    tok.text
                ),
            )),
            Kind::Word => match suggest::keyword_typo(tok.text) {
                Some(typo) => Err(self.error_at(Some(tok), typo.to_string())),
                None => Err(self.expected(
                    "a condition (src, dst, sport, dport, state, not, '(')",
                    from.saturating_sub(1),
                    "",
                )),
            },
            Kind::RParen | Kind::Bin(_) | Kind::Op(_) => Err(self.expected(
                "a condition (src, dst, sport, dport, state, not, '(')",
                from.saturating_sub(1),
                "",
            )),
        }
    }

    /// Keep what a host name stood for, once per name.
    fn note(&mut self, found: HostAddrs) {
        if !self.resolved.iter().any(|r| r.name == found.name) {
            self.resolved.push(found);
        }
    }
}

/// `ss.c` `scan_state`: a state or a group, any case; also the RFC 793
/// spellings [`StateSet::from_name`] reads (`listen`, `syn-received`).
fn scan_state(name: &str) -> Option<StateSet> {
    if name.eq_ignore_ascii_case("unknown") {
        // ss's SS_UNKNOWN, a state no TCP socket is in.
        return Some(StateSet::EMPTY);
    }
    StateSet::from_name(name)
}
