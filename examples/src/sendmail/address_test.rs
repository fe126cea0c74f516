//! `-bv` (verify recipients) and `-bt` (address test mode), answered by the
//! relay's router through `smarthost route`'s code, in this process: the same
//! decisions as the relay makes (local names, virtusertable, aliases,
//! mailertable, smart host), printed in sendmail's words.

use std::io::{self, BufRead, Write};
use std::path::Path;

use super::{Exit, Failure};

/// One routed address: `smarthost route --format tsv`'s columns (sendmail's
/// `/parse` triple); for the error mailer, `host` is the status and `user`
/// the reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The address as given.
    pub given: String,
    /// The mailer (`esmtp`, `relay`, `local`, `*error*`, ...).
    pub mailer: String,
    /// The host (empty for `local`), or the status for `*error*`.
    pub host: String,
    /// The user, or the reply for `*error*`.
    pub user: String,
}

impl Row {
    /// Whether the mailer is sendmail's error mailer.
    pub fn is_error(&self) -> bool {
        self.mailer == "*error*" || self.mailer == "error"
    }

    /// sendmail's words: `mailer esmtp, host example.org, user alice@example.org`.
    pub fn words(&self) -> String {
        if self.is_error() {
            return format!("mailer *error*, reply {}", self.user);
        }
        if self.host.is_empty() {
            return format!("mailer {}, user {}", self.mailer, self.user);
        }
        format!("mailer {}, host {}, user {}", self.mailer, self.host, self.user)
    }

    /// Ruleset 0's result: `$# esmtp $@ example . org $: alice < @ example . org . >`.
    pub fn triple(&self) -> String {
        if self.is_error() {
            return format!("$# error $@ {} $: \"{}\"", tokens(&self.host), self.user.replace('"', "\\\""));
        }
        if self.host.is_empty() {
            return format!("$# {} $: {}", self.mailer, canonify(&self.user));
        }
        format!("$# {} $@ {} $: {}", self.mailer, tokens(&self.host), canonify(&self.user))
    }
}

/// Routes `addresses` as `smarthost route --format tsv` does
/// ([`crate::route::write`]), reading `config` if given.
pub fn route(config: Option<&Path>, addresses: &[String]) -> Result<Vec<Row>, Failure> {
    let settings = crate::route::Settings {
        config: config.map(Path::to_path_buf),
        format: crate::route::Format::Tsv,
        addresses: addresses.to_vec(),
        ..crate::route::Settings::default()
    };
    let mut tsv = Vec::new();
    // Status 1 (some did not parse) still gives every address its row.
    crate::route::write(&settings, &mut tsv)
        .map_err(|message| Failure::new(Exit::Config, format!("{message}; nothing was tested")))?;
    Ok(String::from_utf8_lossy(&tsv)
        .lines()
        .filter_map(|line| {
            let mut columns = line.splitn(4, '\t');
            Some(Row {
                given: columns.next()?.to_string(),
                mailer: columns.next()?.to_string(),
                host: columns.next()?.to_string(),
                user: columns.next()?.to_string(),
            })
        })
        .collect())
}

/// `-bv`: prints `ADDRESS... deliverable: mailer …` or `ADDRESS... REASON`
/// for each address. Exit 0 when all are deliverable, else 67
/// (`EX_NOUSER`) for an unknown user, 65 (`EX_DATAERR`) for others.
pub(crate) fn verify(config: Option<&Path>, addresses: &[String]) -> Result<(), Failure> {
    if addresses.is_empty() {
        return Err(Failure::new(Exit::Usage, "Recipient names must be specified"));
    }
    let rows = route(config, addresses)?;
    let mut status = Exit::Ok;
    let mut out = io::stdout().lock();
    for row in &rows {
        let line = if row.is_error() {
            status = status.max(Exit::for_status(&row.host));
            format!("{}... {}", row.given, reply_text(&row.user))
        } else {
            format!("{}... deliverable: {}", row.given, row.words())
        };
        writeln!(out, "{line}").map_err(|e| Failure::new(Exit::IoErr, e))?;
    }
    match status {
        Exit::Ok => Ok(()),
        status => Err(Failure::new(status, "")),
    }
}

/// `-bt`: reads lines from standard input until EOF or `/quit`.
pub(crate) fn address_test(config: Option<&Path>) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    let write_err = |e: io::Error| Failure::new(Exit::IoErr, e);
    out.write_all(b"ADDRESS TEST MODE (ruleset 3 NOT automatically invoked)\nEnter <ruleset> <address>\n")
        .map_err(write_err)?;
    let mut input = io::stdin().lock();
    let mut line = String::new();
    loop {
        out.write_all(b"> ").and_then(|()| out.flush()).map_err(write_err)?;
        line.clear();
        if input.read_line(&mut line).map_err(|e| Failure::new(Exit::IoErr, e))? == 0 {
            out.write_all(b"\n").and_then(|()| out.flush()).map_err(write_err)?;
            return Ok(());
        }
        let text = line.trim();
        if text == "/quit" {
            return Ok(());
        }
        let answer = test_line(text, &mut |address| route(config, &[address.to_string()]))?;
        out.write_all(answer.as_bytes()).map_err(write_err)?;
    }
}

/// What `-bt` prints for one input line; `route` routes one address.
///
/// ```
/// use smarthost::sendmail::address_test::{Row, test_line};
/// let mut route = |given: &str| Ok(vec![Row {
///     given: given.into(), mailer: "esmtp".into(), host: "example.org".into(), user: given.into(),
/// }]);
/// let answer = test_line("3,0 alice@example.org", &mut route).unwrap();
/// assert_eq!(answer, "\
/// canonify           input: alice @ example . org
/// canonify         returns: alice < @ example . org . >
/// parse              input: alice < @ example . org . >
/// parse            returns: $# esmtp $@ example . org $: alice < @ example . org . >
/// ");
/// ```
pub fn test_line(
    line: &str,
    route: &mut dyn FnMut(&str) -> Result<Vec<Row>, Failure>,
) -> Result<String, Failure> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(String::new());
    }
    if let Some(command) = line.strip_prefix('/') {
        return slash_command(command, route);
    }
    let (rulesets, address) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let address = address.trim();
    let mut names = Vec::new();
    for ruleset in rulesets.split(',') {
        match ruleset {
            "3" | "canonify" => names.push("canonify"),
            "0" | "parse" => names.push("parse"),
            other => return Ok(format!("Undefined ruleset {other}\n")),
        }
    }
    let mut out = String::new();
    let mut current = tokens(address);
    for name in names {
        out.push_str(&trace(name, "input:", &current));
        current = match name {
            "canonify" => canonify(address),
            _ => match route(bare(address))?.first() {
                Some(row) => row.triple(),
                None => "$# error $@ 5 . 1 . 3 $: \"553 5.1.3 cannot parse the address\"".into(),
            },
        };
        out.push_str(&trace(name, "returns:", &current));
    }
    Ok(out)
}

/// `/parse ADDRESS` and the other `/` commands.
fn slash_command(
    command: &str,
    route: &mut dyn FnMut(&str) -> Result<Vec<Row>, Failure>,
) -> Result<String, Failure> {
    let (name, argument) = command.split_once(char::is_whitespace).unwrap_or((command, ""));
    let argument = argument.trim();
    match name {
        "parse" => {
            let mut out =
                format!("Cracked address = {}\nParsing envelope recipient address\n", crack(argument));
            let rows = route(bare(argument))?;
            out.push_str(&trace("canonify", "input:", &tokens(argument)));
            out.push_str(&trace("canonify", "returns:", &canonify(argument)));
            out.push_str(&trace("parse", "input:", &canonify(argument)));
            if let Some(row) = rows.first() {
                out.push_str(&trace("parse", "returns:", &row.triple()));
            }
            for row in &rows {
                out.push_str(&row.words());
                out.push('\n');
            }
            Ok(out)
        }
        "tryflags" | "try" | "map" | "mx" | "canon" | "header" => {
            Ok(format!("/{name}: not supported here; /parse and the rulesets 3 and 0 are\n"))
        }
        _ => Ok(format!("Unknown \"/\" command /{name}\n")),
    }
}

/// One trace line: `canonify           input: …`, as sendmail aligns them.
fn trace(ruleset: &str, what: &str, tokens: &str) -> String {
    format!("{ruleset:<16} {what:>8} {tokens}\n")
}

/// sendmail's tokens: the operators `.:%@!^/[]+` and `<>()`, `,;`, `"…"`
/// strings, and words, joined by single spaces.
///
/// ```
/// assert_eq!(smarthost::sendmail::address_test::tokens("Alice <a.b@[192.0.2.1]>"), "Alice < a . b @ [ 192 . 0 . 2 . 1 ] >");
/// ```
pub fn tokens(text: &str) -> String {
    const OPERATORS: &str = ".:%@!^/[]+<>(),;";
    let mut found: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '"' {
            word.push('"');
            while let Some(q) = chars.next() {
                word.push(q);
                if q == '\\' {
                    word.extend(chars.next());
                } else if q == '"' {
                    break;
                }
            }
        } else if c.is_whitespace() || OPERATORS.contains(c) {
            if !word.is_empty() {
                found.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                found.push(c.to_string());
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        found.push(word);
    }
    found.join(" ")
}

/// Ruleset 3's result: the domain focused in angle brackets with
/// sendmail's trailing dot (`alice < @ example . org . >`); a local name
/// stays as it is, the null address is `< @ >`.
pub fn canonify(address: &str) -> String {
    let address = address.trim();
    let inner = match (address.find('<'), address.rfind('>')) {
        (Some(open), Some(close)) if open < close => &address[open + 1..close],
        _ => address,
    };
    if inner.is_empty() {
        return "< @ >".into();
    }
    match inner.rsplit_once('@') {
        Some((local, domain)) => {
            let domain = domain.trim_end_matches('.');
            format!("{} < @ {} . >", tokens(local), tokens(domain))
        }
        None => tokens(inner),
    }
}

/// The address itself: what is inside `<…>`, else all of it.
fn bare(address: &str) -> &str {
    match (address.find('<'), address.rfind('>')) {
        (Some(open), Some(close)) if open < close => address[open + 1..close].trim(),
        _ => address,
    }
}

/// sendmail's "cracked" address: the address replaced by `$g`, the rest
/// (a display name, comments) kept.
fn crack(address: &str) -> String {
    match (address.find('<'), address.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            format!("{}<$g>{}", &address[..open], &address[close + 1..])
        }
        _ => "$g".into(),
    }
}

/// A reply without its code and status: `550 5.1.1 User unknown` → `User unknown`.
fn reply_text(reply: &str) -> &str {
    let mut rest = reply;
    for _ in 0..2 {
        if let Some((word, after)) = rest.split_once(' ')
            && word.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        {
            rest = after;
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_like_sendmail() {
        assert_eq!(tokens("alice@example.org"), "alice @ example . org");
        assert_eq!(tokens("\"a b\"@x.y"), "\"a b\" @ x . y");
        assert_eq!(tokens("a%b!c^d/e+f"), "a % b ! c ^ d / e + f");
    }

    #[test]
    fn canonify_focuses_the_domain() {
        assert_eq!(canonify("alice@example.org"), "alice < @ example . org . >");
        assert_eq!(canonify("Alice <alice@example.org.>"), "alice < @ example . org . >");
        assert_eq!(canonify("root"), "root");
        assert_eq!(canonify("<>"), "< @ >");
    }

    #[test]
    fn unknown_things_are_named() {
        let mut route = |_: &str| -> Result<Vec<Row>, Failure> { Ok(Vec::new()) };
        assert_eq!(test_line("4 x@y", &mut route).unwrap(), "Undefined ruleset 4\n");
        assert_eq!(test_line("/xyz", &mut route).unwrap(), "Unknown \"/\" command /xyz\n");
        assert_eq!(test_line("# comment", &mut route).unwrap(), "");
    }

    #[test]
    fn error_mailer_triple_and_reply() {
        let row = Row {
            given: "x@@y".into(),
            mailer: "*error*".into(),
            host: "5.1.3".into(),
            user: "501 5.1.3 bad".into(),
        };
        assert_eq!(row.triple(), "$# error $@ 5 . 1 . 3 $: \"501 5.1.3 bad\"");
        assert_eq!(reply_text(&row.user), "bad");
    }
}
