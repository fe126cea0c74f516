//! Load-time checks of a virtusertable source: the `error:` values whose
//! reply is not what their author meant (sendmail's quirks, spec maps.md
//! §4.3), keys sendmail never looks up, and values that are not one address.

use smarthost_maps::Entry;

use super::VirtuserTarget;
use crate::Lint;

/// Checks every entry of a virtusertable source.
///
/// ```
/// use smarthost_maps::{Source, SourceOptions};
/// use smarthost_routing::lint_virtusertable;
///
/// let source = Source::parse(b"joe@virt.example  error:nouser 550 No such user here\n", &SourceOptions::default());
/// let lints = lint_virtusertable(source.entries());
/// assert!(lints[0].message.contains("550 5.0.0"));
/// ```
pub fn lint_virtusertable(entries: &[Entry<'_>]) -> Vec<Lint> {
    let mut lints = Vec::new();
    for entry in entries {
        let key = String::from_utf8_lossy(&entry.key).into_owned();
        let value = String::from_utf8_lossy(&entry.value).into_owned();
        let mut say = |message: String| lints.push(Lint { line: entry.line, key: key.clone(), message });
        if !key.contains('@') {
            say("sendmail never looks up a key without `@domain`: write `user@domain` or `@domain`".into());
        }
        let value = value.trim();
        if value.contains('%') {
            // The reply or address depends on the recipient; nothing to check.
            continue;
        }
        match VirtuserTarget::parse(value) {
            VirtuserTarget::Invalid { reason } => say(reason),
            VirtuserTarget::Error(reply) => {
                if let Some(message) = error_quirk(&value[6..], reply.code, &reply.enhanced) {
                    say(message);
                }
            }
            VirtuserTarget::Address(_) => {}
        }
    }
    lints
}

/// What an `error:` value's author probably did not mean.
fn error_quirk(rest: &str, code: u16, enhanced: &str) -> Option<String> {
    let rest = rest.trim();
    let fix = "write `error:D.S.N:CODE text`, e.g. `error:5.1.1:550 User unknown`";
    let (first, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let first_is_code = first.len() == 3 && first.bytes().all(|b| b.is_ascii_digit());
    if first_is_code {
        return Some(format!(
            "`{first}` is read as the keyword, not the reply code, so the reply is {code} {enhanced}; {fix}"
        ));
    }
    if let Some((keyword, _)) = first.split_once(':')
        && !keyword.contains('.')
    {
        return Some(format!(
            "the virtusertable separates the keyword `{keyword}` from the text with a space, not a colon \
             (that is the mailertable's form), so the reply is {code} {enhanced} with the text starting at \
             `:`; {fix}"
        ));
    }
    if first.contains('.') && !first.contains(':') && !after.is_empty() {
        return Some(format!(
            "a `:` must follow the enhanced code `{first}`; without it the reply is {code} {enhanced}; {fix}"
        ));
    }
    if !first.contains('.') && enhanced.ends_with(".0.0") && code != 553 {
        return Some(format!(
            "the keyword `{first}` does not set the enhanced code, so the reply is {code} {enhanced}; {fix}"
        ));
    }
    if code == 553 && enhanced == "5.3.0" {
        return Some(format!("the text has no reply code, so the reply is 553 5.3.0; {fix}"));
    }
    None
}
