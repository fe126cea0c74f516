//! The elements of an alias value (spec maps.md §6.2): comma-separated
//! addresses, `\user`, `"|program"`, `/file` and `:include:/list`.

use std::fmt;

use crate::{Address, ParseOptions};

/// One member of an alias (or of an `:include:` file).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AliasElement {
    /// An address: a local user (unqualified) or any `user@domain`.
    Address {
        /// The address.
        address: Address,
        /// Written `\user`: deliver to the local user without aliasing
        /// it again ("deliver here and also forward").
        no_alias: bool,
    },
    /// `"|/path/prog args"`: pipe the message to a program (the `prog`
    /// mailer). The command is what follows the `|`.
    Program {
        /// The command line.
        command: String,
    },
    /// `/path/file`: append the message to a file (sendmail's `*file*`
    /// mailer).
    File {
        /// The file's path.
        path: String,
    },
    /// `:include:/path/list`: read more members from a file.
    Include {
        /// The list file's path.
        path: String,
    },
    /// A member that is none of the above, kept as written so that the
    /// expansion can report it.
    Invalid {
        /// The member as written.
        text: String,
        /// Why it is not an address.
        reason: String,
    },
}

/// Reads an alias value into its elements. Commas inside quotes, `<...>`
/// and `(...)` do not separate; `(comments)` are dropped, and of
/// `Name <user@domain>` only the address in brackets counts. Empty members
/// (`a,,b`, a trailing comma) are skipped.
///
/// ```
/// use smarthost_routing::{AliasElement, parse_alias_value};
/// let elements = parse_alias_value(r#"\self, "|/usr/bin/vacation self", /var/mail/archive, :include:/etc/mail/staff"#);
/// assert!(matches!(&elements[0], AliasElement::Address { no_alias: true, .. }));
/// assert_eq!(elements[1], AliasElement::Program { command: "/usr/bin/vacation self".into() });
/// assert_eq!(elements[2], AliasElement::File { path: "/var/mail/archive".into() });
/// assert_eq!(elements[3], AliasElement::Include { path: "/etc/mail/staff".into() });
/// ```
pub fn parse_alias_value(value: &str) -> Vec<AliasElement> {
    split_members(value).into_iter().filter_map(parse_member).collect()
}

/// Writes elements as an alias value, `, ` between them, such that
/// [`parse_alias_value`] reads them back unchanged.
///
/// ```
/// use smarthost_routing::{parse_alias_value, render_alias_value};
/// let elements = parse_alias_value("Joe <joe@example.org> (the boss), \"|/bin/prog \\\"x\\\"\"");
/// assert_eq!(render_alias_value(&elements), r#"joe@example.org, "|/bin/prog \"x\"""#);
/// assert_eq!(parse_alias_value(&render_alias_value(&elements)), elements);
/// ```
pub fn render_alias_value(elements: &[AliasElement]) -> String {
    elements.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for AliasElement {
    /// The element as an alias value writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address { address, no_alias } => {
                write!(f, "{}{address}", if *no_alias { "\\" } else { "" })
            }
            Self::Program { command } => write!(f, "\"|{}\"", escape(command)),
            Self::File { path } if is_bare(path) => f.write_str(path),
            Self::File { path } => write!(f, "\"{}\"", escape(path)),
            Self::Include { path } if is_bare(path) => write!(f, ":include:{path}"),
            Self::Include { path } => write!(f, "\":include:{}\"", escape(path)),
            Self::Invalid { text, .. } => f.write_str(text),
        }
    }
}

/// Splits at commas outside quotes, angle brackets and parentheses;
/// returns each member trimmed (white space and CR).
fn split_members(value: &str) -> Vec<&str> {
    let mut members = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let (mut angle, mut paren) = (0u32, 0u32);
    let mut start = 0;
    for (i, ch) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match ch {
            // A backslash escapes only inside quotes and comments: outside
            // them it is `\user`'s marker.
            '\\' if quoted || paren > 0 => escaped = true,
            '"' if paren == 0 => quoted = !quoted,
            '(' if !quoted => paren += 1,
            ')' if !quoted => paren = paren.saturating_sub(1),
            '<' if !quoted && paren == 0 => angle += 1,
            '>' if !quoted && paren == 0 => angle = angle.saturating_sub(1),
            ',' if !quoted && angle == 0 && paren == 0 => {
                members.push(trim(&value[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    members.push(trim(&value[start..]));
    members
}

fn trim(text: &str) -> &str {
    text.trim_matches(|ch: char| ch.is_ascii() && super::parse::is_c_space(ch as u8))
}

/// Reads one trimmed member; `None` for an empty one.
fn parse_member(raw: &str) -> Option<AliasElement> {
    if raw.is_empty() {
        return None;
    }
    let invalid = |reason: String| Some(AliasElement::Invalid { text: raw.to_string(), reason });
    let stripped = strip_comments(raw);
    let stripped = trim(&stripped);
    if stripped.is_empty() {
        return None;
    }
    let text = match route_addr(stripped) {
        Some(inner) => trim(inner),
        None => stripped,
    };
    let (text, no_alias) = match text.strip_prefix('\\') {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    if text.is_empty() {
        return invalid("nothing follows the backslash".into());
    }
    if let Some(inner) = text.strip_prefix('"')
        && let Some((content, after)) = unquote(inner)
        && trim(after).is_empty()
        && let Some(special) = special(&content)
    {
        return Some(
            special.unwrap_or_else(|reason| AliasElement::Invalid { text: raw.to_string(), reason }),
        );
    }
    if !text.starts_with('"')
        && let Some(special) = special(text)
    {
        return Some(
            special.unwrap_or_else(|reason| AliasElement::Invalid { text: raw.to_string(), reason }),
        );
    }
    match Address::parse(text, ParseOptions { smtputf8: true }) {
        Ok(address) => Some(AliasElement::Address { address, no_alias }),
        Err(error) => invalid(error.to_string()),
    }
}

/// `|program`, `/file` and `:include:path`, or `None` for anything else.
fn special(content: &str) -> Option<Result<AliasElement, String>> {
    if let Some(command) = content.strip_prefix('|') {
        return Some(if command.trim().is_empty() {
            Err("the program after `|` is missing".into())
        } else {
            Ok(AliasElement::Program { command: command.to_string() })
        });
    }
    if content.starts_with('/') {
        return Some(Ok(AliasElement::File { path: content.to_string() }));
    }
    let head = content.get(..9)?;
    if !head.eq_ignore_ascii_case(":include:") {
        return None;
    }
    let path = trim(&content[9..]);
    Some(if path.is_empty() {
        Err("the file after `:include:` is missing".into())
    } else {
        Ok(AliasElement::Include { path: path.to_string() })
    })
}

/// The content of a quoted string that starts just after its opening
/// quote, unescaped, and the text after the closing quote.
fn unquote(inner: &str) -> Option<(String, &str)> {
    let mut content = String::new();
    let mut chars = inner.char_indices();
    while let Some((i, ch)) = chars.next() {
        match ch {
            '"' => return Some((content, &inner[i + 1..])),
            '\\' => content.push(chars.next()?.1),
            _ => content.push(ch),
        }
    }
    None
}

/// Drops `(comments)` outside quotes.
fn strip_comments(text: &str) -> String {
    if !text.contains('(') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let (mut quoted, mut escaped, mut depth) = (false, false, 0u32);
    for ch in text.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(ch);
            }
            continue;
        }
        match ch {
            '\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(ch);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(ch);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(ch),
        }
    }
    out
}

/// The address inside `Name <address>`, if the member has that form.
fn route_addr(text: &str) -> Option<&str> {
    let mut quoted = false;
    let mut escaped = false;
    let mut open = None;
    for (i, ch) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match ch {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted && open.is_none() => open = Some(i),
            '>' if !quoted => {
                let start = open?;
                return trim(&text[i + 1..]).is_empty().then(|| &text[start + 1..i]);
            }
            _ => {}
        }
    }
    None
}

/// Whether a path can be written without quotes.
fn is_bare(path: &str) -> bool {
    !path.is_empty()
        && !path.chars().any(|ch| {
            ch.is_whitespace() || ch.is_control() || matches!(ch, ',' | '"' | '\\' | '(' | ')' | '<' | '>')
        })
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '"' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> AliasElement {
        AliasElement::Address {
            address: Address::parse(text, ParseOptions::default()).unwrap(),
            no_alias: false,
        }
    }

    #[test]
    fn each_form_of_spec_6_2() {
        let elements = parse_alias_value(
            "alice, \\self, bob@example.net, \"|/usr/bin/true\", /var/spool/archive/list.mbox, \
             :include:/etc/mail/staff, moved@else.example.REDIRECT",
        );
        assert_eq!(elements.len(), 7);
        assert_eq!(elements[0], addr("alice"));
        assert!(
            matches!(&elements[1], AliasElement::Address { no_alias: true, address } if address.to_string() == "self")
        );
        assert_eq!(elements[2], addr("bob@example.net"));
        assert_eq!(elements[3], AliasElement::Program { command: "/usr/bin/true".into() });
        assert_eq!(elements[4], AliasElement::File { path: "/var/spool/archive/list.mbox".into() });
        assert_eq!(elements[5], AliasElement::Include { path: "/etc/mail/staff".into() });
        assert_eq!(elements[6], addr("moved@else.example.redirect"));
    }

    #[test]
    fn quotes_brackets_and_comments_protect_commas() {
        let elements = parse_alias_value(
            "\"|/bin/prog a,b\", \"Doe, John\" <john@example.org>, carol (Carol, from sales),,\r",
        );
        assert_eq!(
            elements,
            [
                AliasElement::Program { command: "/bin/prog a,b".into() },
                addr("john@example.org"),
                addr("carol"),
            ]
        );
        assert_eq!(parse_alias_value(":INCLUDE: /x")[0], AliasElement::Include { path: "/x".into() });
        assert_eq!(
            parse_alias_value("\"/with space\"")[0],
            AliasElement::File { path: "/with space".into() }
        );
    }

    #[test]
    fn bad_members_are_kept_with_a_reason() {
        let elements = parse_alias_value("a b, \\, |, :include:, \"unterminated, x");
        let texts: Vec<String> = elements.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["a b", "\\", "|", ":include:", "\"unterminated, x"]);
        assert!(elements.iter().all(|e| matches!(e, AliasElement::Invalid { .. })), "{elements:?}");
    }

    #[test]
    fn rendering_reads_back() {
        for value in [
            "a, \\b, \"|x \\\"y\\\"\", \"/p q\", \":include:/a b\", \"x y\"@example.org",
            "\\\"john doe\", ((nested) comment) d",
            "<a@b> junk, x",
        ] {
            let elements = parse_alias_value(value);
            assert_eq!(parse_alias_value(&render_alias_value(&elements)), elements, "{value}");
        }
    }
}
