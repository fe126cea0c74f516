//! A naive reference for the access-map searches, shared by
//! `tests/access_properties.rs` and the `access_key` fuzz target: every key
//! of sendmail's sequence (access.md §4) built as a `String` from a list of
//! sendmail tokens, the first one present deciding. It follows the rulesets'
//! rules one by one and shares no code with `smarthost_routing::access`.

use std::net::IpAddr;

use smarthost_routing::{Address, Domain, client_addr_text};

fn is_operator(c: char) -> bool {
    ".:%@!^/[]+".contains(c)
}

/// sendmail's tokens: each operator character alone, other runs together.
pub(crate) fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if is_operator(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(c.to_string());
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

fn push(keys: &mut Vec<String>, body: &str, tag: &str, untagged: bool) {
    keys.push(format!("{tag}{body}"));
    if untagged {
        keys.push(body.to_string());
    }
}

/// LookUpDomain's keys for `host` (`tag` is `connect:` and so on).
pub(crate) fn host_keys(host: &str, tag: &str, untagged: bool, dot: bool) -> Vec<String> {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    let mut cur = tokens(host);
    let mut keys = Vec::new();
    while !cur.is_empty() {
        push(&mut keys, &cur.concat(), tag, untagged);
        let first_dot = (1..cur.len().saturating_sub(1)).find(|&i| cur[i] == ".");
        if dot && let Some(i) = first_dot {
            push(&mut keys, &cur[i..].concat(), tag, untagged);
        }
        let n = cur.len();
        if n >= 2 && cur[0] == "[" && cur[n - 1] == "]" {
            let inner = &cur[1..n - 1];
            let m = inner.len();
            let cut = if m >= 3 && inner[m - 2] == "." {
                Some(2)
            } else if m >= 4 && inner[m - 2] == ":" && inner[m - 3] == ":" {
                Some(3)
            } else if m >= 3 && inner[m - 2] == ":" {
                Some(2)
            } else {
                None
            };
            if let Some(cut) = cut {
                let mut next = vec!["[".to_string()];
                next.extend_from_slice(&inner[..m - cut]);
                next.push("]".into());
                cur = next;
                continue;
            }
        }
        match first_dot {
            Some(i) => cur = cur[i + 1..].to_vec(),
            None => break,
        }
    }
    keys
}

/// LookUpAddress's keys for `text`.
pub(crate) fn addr_keys(text: &str, tag: &str, untagged: bool) -> Vec<String> {
    let mut cur = tokens(&text.to_ascii_lowercase());
    let mut keys = Vec::new();
    while !cur.is_empty() {
        push(&mut keys, &cur.concat(), tag, untagged);
        let n = cur.len();
        let cut = if n >= 4 && cur[n - 2] == ":" && cur[n - 3] == ":" {
            3
        } else if n >= 3 && (cur[n - 2] == ":" || cur[n - 2] == ".") {
            2
        } else {
            break;
        };
        cur.truncate(n - cut);
    }
    keys
}

fn domain_text(domain: &Domain) -> String {
    match domain {
        Domain::Name(name) => name.clone(),
        Domain::Ipv4(v4) => format!("[{v4}]"),
        Domain::Ipv6(v6) => format!("[{}]", client_addr_text(IpAddr::V6(*v6), false)),
    }
}

/// SearchList's items for an address: the full address (if qualified),
/// the local part, the domain (if qualified), each a list of keys.
pub(crate) fn address_items(address: &Address, tag: &str, untagged: bool, dot: bool) -> Vec<Vec<String>> {
    let local = address.quoted_local_part().to_ascii_lowercase();
    let plus = if address.is_quoted() { None } else { local.char_indices().skip(1).find(|&(_, c)| c == '+') };
    let variants = |suffix: &str| {
        let mut keys = Vec::new();
        push(&mut keys, &format!("{local}@{suffix}"), tag, untagged);
        if let Some((i, _)) = plus {
            push(&mut keys, &format!("{}+*@{suffix}", &local[..i]), tag, untagged);
            push(&mut keys, &format!("{}@{suffix}", &local[..i]), tag, untagged);
        }
        keys
    };
    let mut items = Vec::new();
    if let Some(domain) = address.domain() {
        items.push(variants(&domain_text(domain).to_ascii_lowercase()));
    }
    items.push(variants(""));
    if let Some(domain) = address.domain() {
        items.push(host_keys(&domain_text(domain), tag, untagged, dot));
    }
    items
}

/// The first key of `keys` that `lookup` finds, with its value; a `SKIP`
/// value means nothing was found.
pub(crate) fn first_hit(
    lookup: impl Fn(&str) -> Option<Vec<u8>>,
    keys: &[String],
) -> Option<(String, Vec<u8>)> {
    let (key, value) = keys.iter().find_map(|k| lookup(k).map(|v| (k.clone(), v)))?;
    (!value.eq_ignore_ascii_case(b"skip")).then_some((key, value))
}

/// SearchList: the first item with a hit decides.
pub(crate) fn search(
    lookup: impl Fn(&str) -> Option<Vec<u8>>,
    items: &[Vec<String>],
) -> Option<(String, Vec<u8>)> {
    items.iter().find_map(|keys| first_hit(&lookup, keys))
}
