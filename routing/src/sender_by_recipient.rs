//! \[EXT\] Sender identity by recipient: a map from a recipient (address or
//! domain, with a default entry) to the sender address to use when writing
//! to that recipient, so that each correspondent sees its own address and a
//! leaked one can be retired. Operators do this today in their mail client;
//! this does it in the relay. sendmail has no such feature.

use std::fmt;

use smarthost_maps::Map;

use crate::masquerade::Parts;
use crate::{Address, Domain, ParseOptions, ReversePath, RewriteError};

/// The sender-identity map, read with sendmail's map rules (keys folded by
/// the map, as makemap builds it).
///
/// Keys, in the order they are tried for the recipient `user+detail@domain`
/// (the first present one wins):
///
/// 1. `user+detail@domain`, the whole address;
/// 2. `user@domain`, when there is a `+detail`;
/// 3. `domain`, the exact domain (or address literal, `[192.0.2.1]`);
/// 4. `.parent` for each parent of the domain, most specific first
///    (`.shop.example`, `.example`), as mailertable keys are;
/// 5. `.`, the default entry.
///
/// An unqualified recipient (a local user) never matches: identities are
/// for mail that leaves. The value is the sender address, written bare
/// (`me+shop@example.com`); it must be qualified.
///
/// ```
/// use smarthost_maps::{SourceOptions, TextMap};
/// use smarthost_routing::{Address, ParseOptions, ReversePath, SenderByRecipient};
///
/// let table = "\
/// bob@shop.example   me+bob@example.com
/// .shop.example      me+shop@example.com
/// .                  me+new@example.com
/// ";
/// let (map, _) = TextMap::from_source(table.as_bytes(), &SourceOptions::default());
/// let identities = SenderByRecipient::new(&map);
/// let to = |a| Address::parse(a, ParseOptions::default()).unwrap();
/// let me = ReversePath::Address(to("me@example.com"));
///
/// let chosen = identities.identity(&me, &[to("alice@eu.shop.example")])?.unwrap();
/// assert_eq!(chosen.address().to_string(), "me+shop@example.com");
/// assert_eq!(chosen.key(), ".shop.example");
/// // Two recipients would see each other's identity: none is chosen.
/// assert!(identities.identity(&me, &[to("bob@shop.example"), to("carol@x.example")])?.is_none());
/// // Bounces keep the null sender.
/// assert!(identities.identity(&ReversePath::Null, &[to("bob@shop.example")])?.is_none());
/// # Ok::<(), smarthost_routing::RewriteError>(())
/// ```
#[derive(Clone, Copy)]
pub struct SenderByRecipient<'m> {
    map: &'m dyn Map,
}

/// The sender a message is sent as, chosen for its recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderIdentity {
    original: Option<Address>,
    address: Address,
    key: String,
}

impl SenderIdentity {
    /// An identity that replaces the envelope sender `original` (and the
    /// header addresses naming it) with `address`. `key` says where it came
    /// from, for logs.
    pub fn new(original: Option<Address>, address: Address, key: impl Into<String>) -> Self {
        Self { original, address, key: key.into() }
    }

    /// The address to send as.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The envelope sender it replaces.
    pub fn original(&self) -> Option<&Address> {
        self.original.as_ref()
    }

    /// The map key that matched.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether `sender` is the envelope sender this identity replaces.
    pub(crate) fn replaces(&self, sender: Parts<'_>) -> bool {
        self.original.as_ref().is_none_or(|original| sender.is_mailbox(original))
    }
}

impl fmt::Display for SenderIdentity {
    /// `ADDRESS (sender-by-recipient `KEY`)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (sender-by-recipient `{}`)", self.address, self.key)
    }
}

impl fmt::Debug for SenderByRecipient<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderByRecipient").finish_non_exhaustive()
    }
}

impl<'m> SenderByRecipient<'m> {
    /// The identities in `map`.
    pub fn new(map: &'m dyn Map) -> Self {
        Self { map }
    }

    /// The keys tried for `recipient`, in order (see the type's docs).
    ///
    /// ```
    /// use smarthost_routing::{Address, ParseOptions, SenderByRecipient};
    /// let bob = Address::parse("bob+news@mx.shop.example", ParseOptions::default())?;
    /// assert_eq!(
    ///     SenderByRecipient::keys(&bob),
    ///     ["bob+news@mx.shop.example", "bob@mx.shop.example", "mx.shop.example", ".shop.example", ".example", "."],
    /// );
    /// # Ok::<(), smarthost_routing::AddressError>(())
    /// ```
    pub fn keys(recipient: &Address) -> Vec<String> {
        let Some(domain) = recipient.domain() else {
            return Vec::new();
        };
        let domain = domain.to_string();
        let local = recipient.quoted_local_part();
        let mut keys = vec![format!("{local}@{domain}")];
        if !recipient.is_quoted()
            && let Some((user, _)) = recipient.local_part().split_once('+')
            && !user.is_empty()
        {
            keys.push(format!("{user}@{domain}"));
        }
        keys.push(domain.clone());
        if matches!(recipient.domain(), Some(Domain::Name(_))) {
            keys.extend(domain.match_indices('.').map(|(dot, _)| domain[dot..].to_string()));
        }
        keys.push(".".to_string());
        keys
    }

    /// The identity for `recipient`: the first key present and its value.
    pub fn lookup(&self, recipient: &Address) -> Result<Option<(String, Address)>, RewriteError> {
        for key in Self::keys(recipient) {
            let found = self
                .map
                .lookup(key.as_bytes())
                .map_err(|source| RewriteError::Map { table: "sender-by-recipient", source })?;
            let Some(value) = found else { continue };
            let value = String::from_utf8_lossy(value).trim().to_string();
            let address = Address::parse(&value, ParseOptions { smtputf8: true }).map_err(|error| {
                RewriteError::BadValue {
                    table: "sender-by-recipient",
                    key: key.clone(),
                    value: value.clone(),
                    error,
                }
            })?;
            if address.domain().is_none() {
                return Err(RewriteError::UnqualifiedValue { table: "sender-by-recipient", key, value });
            }
            return Ok(Some((key, address)));
        }
        Ok(None)
    }

    /// The identity for a message from `sender` to `recipients`: chosen
    /// only when the message has exactly one recipient, that recipient
    /// matches, and the sender is not `<>` (bounces keep the null sender).
    /// With more recipients every one of them would see the identity chosen
    /// for another, which is what the feature exists to prevent.
    ///
    /// Give the result to [`crate::Rewriter::sender_identity`]: it replaces
    /// the envelope sender, and in `From`, `Sender` and `Reply-To` every
    /// address that is the envelope sender or the first `From` address
    /// (another `Reply-To`, a mailing list's, is kept). The identity is
    /// final: it is not masqueraded or looked up in the genericstable.
    pub fn identity(
        &self,
        sender: &ReversePath,
        recipients: &[Address],
    ) -> Result<Option<SenderIdentity>, RewriteError> {
        let (ReversePath::Address(original), [recipient]) = (sender, recipients) else {
            return Ok(None);
        };
        Ok(self.lookup(recipient)?.map(|(key, address)| SenderIdentity {
            original: Some(original.clone()),
            address,
            key,
        }))
    }
}
