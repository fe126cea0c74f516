use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use proptest::prelude::*;

use super::*;

const RFC7677_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const RFC7677_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

fn creds(text: &str) -> ServerCredentials {
    ServerCredentials::parse_str("users", text).expect("test credentials parse")
}

fn sample() -> &'static ServerCredentials {
    static SAMPLE: std::sync::LazyLock<ServerCredentials> = std::sync::LazyLock::new(build_sample);
    &SAMPLE
}

fn build_sample() -> ServerCredentials {
    let user_keys = ScramKeys::derive(b"pencil", &BASE64.decode(RFC7677_SALT).unwrap(), 4096);
    creds(&format!(
        "# test users\n\
         relayuser@example.net  Tr0ub4dor&3\n\
         relayuser              Tr0ub4dor&3\n\
         spaced                 pass with  spaces\n\
         hashed                 $6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1\n\
         user                   {user_keys}\n"
    ))
}

fn ctx(tls: bool) -> AuthContext {
    AuthContext::new("mx.example.org", tls, 1_700_000_000)
}

fn start<'a>(mech: Mechanism, creds: &'a ServerCredentials, ctx: AuthContext) -> ServerSasl<'a> {
    ServerSasl::start(mech, creds, &AuthPolicy::default(), ctx).expect("mechanism starts")
}

fn authenticated(login: &str) -> Step {
    Step::Done(Outcome::Authenticated { login: login.into() })
}

/// Runs an exchange: the initial response, then each response in turn.
fn run(mech: Mechanism, creds: &ServerCredentials, ir: Option<&[u8]>, responses: &[&[u8]]) -> Step {
    let mut sasl = start(mech, creds, ctx(true));
    let mut step = sasl.handle_start(ir);
    for r in responses {
        assert!(matches!(step, Step::Challenge(_)), "done early: {step:?}");
        step = sasl.handle_response(r);
    }
    step
}

// ---- PLAIN ----------------------------------------------------------------

#[test]
fn plain_spec_example() {
    let c = sample().clone();
    let ir = BASE64.decode("AHJlbGF5dXNlckBleGFtcGxlLm5ldABUcjB1YjRkb3ImMw==").unwrap();
    assert_eq!(run(Mechanism::Plain, &c, Some(&ir), &[]), authenticated("relayuser@example.net"));
    // Without an initial response: an empty 334 first.
    let mut sasl = start(Mechanism::Plain, &c, ctx(true));
    assert_eq!(sasl.handle_start(None), Step::Challenge(Vec::new()));
    assert_eq!(sasl.handle_response(&ir), authenticated("relayuser@example.net"));
    assert_eq!(sasl.handle_response(&ir), Step::Done(Outcome::Malformed));
}

#[test]
fn plain_authzid_must_equal_authcid() {
    let c = sample().clone();
    let same = BASE64
        .decode("cmVsYXl1c2VyQGV4YW1wbGUubmV0AHJlbGF5dXNlckBleGFtcGxlLm5ldABUcjB1YjRkb3ImMw==")
        .unwrap();
    assert_eq!(run(Mechanism::Plain, &c, Some(&same), &[]), authenticated("relayuser@example.net"));
    // Domain case does not matter, the local part does.
    let upper = b"relayuser@EXAMPLE.NET\0relayuser@example.net\0Tr0ub4dor&3";
    assert_eq!(run(Mechanism::Plain, &c, Some(upper), &[]), authenticated("relayuser@example.net"));
    let other = b"admin\0relayuser@example.net\0Tr0ub4dor&3";
    assert_eq!(run(Mechanism::Plain, &c, Some(other), &[]), Step::Done(Outcome::Failed));
}

#[test]
fn plain_failures() {
    let c = sample().clone();
    let cases: [(&[u8], Outcome); 9] = [
        (b"\0relayuser\0wrong", Outcome::Failed),
        (b"\0nobody\0Tr0ub4dor&3", Outcome::Failed),
        (b"\0RelayUser\0Tr0ub4dor&3", Outcome::Failed),
        (b"\0relayuser\0Tr0ub4dor&3 ", Outcome::Failed),
        (b"relayuser\0Tr0ub4dor&3", Outcome::Malformed),
        (b"\0relayuser\0Tr0ub4dor&3\0", Outcome::Malformed),
        (b"\0\0Tr0ub4dor&3", Outcome::Malformed),
        (b"\0relayuser\0", Outcome::Malformed),
        (b"", Outcome::Malformed),
    ];
    for (response, outcome) in cases {
        assert_eq!(
            run(Mechanism::Plain, &c, Some(response), &[]),
            Step::Done(outcome),
            "{}",
            response.escape_ascii()
        );
    }
    assert_eq!(run(Mechanism::Plain, &c, Some(b"\0spaced\0pass with  spaces"), &[]), authenticated("spaced"));
}

#[test]
fn plain_and_login_need_tls() {
    let c = sample().clone();
    for mech in [Mechanism::Plain, Mechanism::Login] {
        let err = ServerSasl::start(mech, &c, &AuthPolicy::default(), ctx(false)).unwrap_err();
        assert_eq!(err, StartError::EncryptionRequired);
        assert_eq!(
            err.reply().to_string(),
            "538 5.7.11 Encryption required for requested authentication mechanism"
        );
        let policy = AuthPolicy { dangerous_allow_cleartext_without_tls: true, ..AuthPolicy::default() };
        assert!(ServerSasl::start(mech, &c, &policy, ctx(false)).is_ok());
    }
    for mech in [Mechanism::CramMd5, Mechanism::ScramSha256] {
        assert!(ServerSasl::start(mech, &c, &AuthPolicy::default(), ctx(false)).is_ok());
    }
    let only_scram = AuthPolicy { mechanisms: vec![Mechanism::ScramSha256], ..AuthPolicy::default() };
    assert_eq!(
        ServerSasl::start(Mechanism::Plain, &c, &only_scram, ctx(true)).unwrap_err(),
        StartError::NotOffered
    );
}

// ---- LOGIN ----------------------------------------------------------------

#[test]
fn login_spec_example() {
    let c = sample().clone();
    let mut sasl = start(Mechanism::Login, &c, ctx(true));
    assert_eq!(sasl.handle_start(None), Step::Challenge(b"Username:".to_vec()));
    assert_eq!(sasl.handle_response(b"relayuser@example.net"), Step::Challenge(b"Password:".to_vec()));
    assert_eq!(sasl.handle_response(b"Tr0ub4dor&3"), authenticated("relayuser@example.net"));
    // User name as the initial response.
    assert_eq!(run(Mechanism::Login, &c, Some(b"relayuser"), &[b"Tr0ub4dor&3"]), authenticated("relayuser"));
}

#[test]
fn login_failures() {
    let c = sample().clone();
    let failed = Step::Done(Outcome::Failed);
    let malformed = Step::Done(Outcome::Malformed);
    assert_eq!(run(Mechanism::Login, &c, None, &[b"relayuser", b"wrong"]), failed);
    assert_eq!(run(Mechanism::Login, &c, None, &[b"nobody", b"Tr0ub4dor&3"]), failed);
    assert_eq!(run(Mechanism::Login, &c, None, &[b""]), malformed);
    assert_eq!(run(Mechanism::Login, &c, None, &[b"\xff\xfe"]), malformed);
    assert_eq!(run(Mechanism::Login, &c, Some(b""), &[]), malformed);
}

// ---- CRAM-MD5 -------------------------------------------------------------

fn cram_ctx() -> AuthContext {
    ctx(false).dangerous_with_fixed_nonce("4711").unwrap()
}

#[test]
fn cram_md5_spec_example() {
    let c = sample().clone();
    let mut sasl = start(Mechanism::CramMd5, &c, cram_ctx());
    let Step::Challenge(challenge) = sasl.handle_start(None) else {
        panic!("CRAM-MD5 starts with a challenge");
    };
    assert_eq!(BASE64.encode(&challenge), "PDQ3MTEuMTcwMDAwMDAwMEBteC5leGFtcGxlLm9yZz4=");
    let response = BASE64.decode("cmVsYXl1c2VyIDM2MDIzNGNlOTNkYzYxM2M5ZmFlNTlkNDVkZDA0MzBm").unwrap();
    assert_eq!(sasl.handle_response(&response), authenticated("relayuser"));
}

#[test]
fn cram_md5_failures() {
    let c = sample().clone();
    let cases: [(&[u8], Outcome); 8] = [
        // Upper-case hex is accepted.
        (b"relayuser 360234CE93DC613C9FAE59D45DD0430F", Outcome::Authenticated { login: "relayuser".into() }),
        (b"relayuser 360234ce93dc613c9fae59d45dd0430e", Outcome::Failed),
        (b"nobody 360234ce93dc613c9fae59d45dd0430f", Outcome::Failed),
        // Only a hash is stored for `hashed`: CRAM-MD5 cannot work.
        (b"hashed 360234ce93dc613c9fae59d45dd0430f", Outcome::Failed),
        (b"relayuser 360234ce93dc613c9fae59d45dd0430", Outcome::Malformed),
        (b"relayuser360234ce93dc613c9fae59d45dd0430f", Outcome::Malformed),
        (b" 360234ce93dc613c9fae59d45dd0430f", Outcome::Malformed),
        (b"relayuser 360234ce93dc613c9fae59d45dd0430g", Outcome::Malformed),
    ];
    for (response, outcome) in cases {
        let mut sasl = start(Mechanism::CramMd5, &c, cram_ctx());
        sasl.handle_start(None);
        assert_eq!(sasl.handle_response(response), Step::Done(outcome));
    }
    // A client-first initial response is a protocol error.
    let mut sasl = start(Mechanism::CramMd5, &c, cram_ctx());
    assert_eq!(sasl.handle_start(Some(b"x")), Step::Done(Outcome::Malformed));
}

#[test]
fn cram_md5_challenge_is_fresh() {
    let a = ctx(true);
    let b = ctx(true);
    assert_ne!(a.nonce(), b.nonce());
    assert!(a.dangerous_with_fixed_nonce("a,b").is_none());
}

// ---- SCRAM-SHA-256 --------------------------------------------------------

#[test]
fn scram_sha_256_rfc7677_server_side() {
    let c = sample().clone();
    let ctx = ctx(false).dangerous_with_fixed_nonce(RFC7677_SERVER_NONCE).unwrap();
    let mut sasl = start(Mechanism::ScramSha256, &c, ctx);
    let first = sasl.handle_start(Some(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
    assert_eq!(
        first,
        Step::Challenge(
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
                .to_vec()
        )
    );
    let last = sasl.handle_response(
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
          p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    );
    assert_eq!(last, Step::Challenge(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec()));
    assert_eq!(sasl.handle_response(b""), authenticated("user"));
}

#[test]
fn scram_sha_256_failures() {
    let c = sample().clone();
    let client_first = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    let good_final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                      p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    let exchange = |first: &[u8], last: &[u8]| {
        let ctx = ctx(true).dangerous_with_fixed_nonce(RFC7677_SERVER_NONCE).unwrap();
        let mut sasl = start(Mechanism::ScramSha256, &c, ctx);
        match sasl.handle_start(Some(first)) {
            Step::Challenge(_) => sasl.handle_response(last),
            done => done,
        }
    };
    let failed = Step::Done(Outcome::Failed);
    let malformed = Step::Done(Outcome::Malformed);
    let wrong_proof = good_final.replace("p=dHzb", "p=dHzc");
    assert_eq!(exchange(client_first, wrong_proof.as_bytes()), failed);
    let wrong_nonce = good_final.replace("k0,", "k1,");
    assert_eq!(exchange(client_first, wrong_nonce.as_bytes()), failed);
    let wrong_binding = good_final.replace("c=biws", "c=eSws");
    assert_eq!(exchange(client_first, wrong_binding.as_bytes()), failed);
    // Unknown and hash-only users get a plausible server-first, then fail.
    assert_eq!(exchange(b"n,,n=nobody,r=abc", good_final.as_bytes()), failed);
    assert_eq!(exchange(b"n,,n=hashed,r=abc", good_final.as_bytes()), failed);
    assert_eq!(exchange(b"n,a=other,n=user,r=abc", b""), failed);
    assert_eq!(exchange(b"p=tls-unique,,n=user,r=abc", b""), failed);
    assert_eq!(exchange(b"x,,n=user,r=abc", b""), malformed);
    assert_eq!(exchange(b"n,,m=ext,n=user,r=abc", b""), malformed);
    assert_eq!(exchange(b"n,,n=us=2Xer,r=abc", b""), malformed);
    assert_eq!(exchange(b"n,,n=user", b""), malformed);
    assert_eq!(exchange(client_first, b"c=biws"), malformed);
    // After server-final the client must send an empty response.
    let ctx = ctx(true).dangerous_with_fixed_nonce(RFC7677_SERVER_NONCE).unwrap();
    let mut sasl = start(Mechanism::ScramSha256, &c, ctx);
    sasl.handle_start(Some(client_first));
    sasl.handle_response(good_final.as_bytes());
    assert_eq!(sasl.handle_response(b"x"), malformed);
}

/// A minimal SCRAM-SHA-256 client, to exercise users with plain passwords
/// (whose salt is random) and the authzid form.
fn scram_client(creds: &ServerCredentials, gs2: &str, user: &str, password: &[u8]) -> Step {
    let mut sasl = start(Mechanism::ScramSha256, creds, ctx(true));
    let bare = format!("n={user},r=clientnonce");
    let Step::Challenge(server_first) = sasl.handle_start(Some(format!("{gs2}{bare}").as_bytes())) else {
        panic!("no server-first");
    };
    let server_first = String::from_utf8(server_first).unwrap();
    let mut attrs = server_first.split(',');
    let nonce = attrs.next().unwrap().strip_prefix("r=").unwrap();
    let salt = BASE64.decode(attrs.next().unwrap().strip_prefix("s=").unwrap()).unwrap();
    let iterations: u32 = attrs.next().unwrap().strip_prefix("i=").unwrap().parse().unwrap();
    let keys = ScramKeys::derive(password, &salt, iterations);
    let without_proof = format!("c={},r={nonce}", BASE64.encode(gs2));
    let auth_message = format!("{bare},{server_first},{without_proof}");
    let signature = stored::hmac_sha256(&keys.stored_key, auth_message.as_bytes());
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &salt, iterations, &mut salted);
    let client_key = stored::hmac_sha256(&salted, b"Client Key");
    let proof: Vec<u8> = client_key.iter().zip(signature).map(|(k, s)| k ^ s).collect();
    let step = sasl.handle_response(format!("{without_proof},p={}", BASE64.encode(proof)).as_bytes());
    match step {
        Step::Challenge(server_final) => {
            let expected = stored::hmac_sha256(&keys.server_key, auth_message.as_bytes());
            assert_eq!(server_final, format!("v={}", BASE64.encode(expected)).into_bytes());
            sasl.handle_response(b"")
        }
        done => done,
    }
}

#[test]
fn scram_sha_256_with_plain_password() {
    let c = sample().clone();
    assert_eq!(scram_client(&c, "n,,", "relayuser", b"Tr0ub4dor&3"), authenticated("relayuser"));
    assert_eq!(scram_client(&c, "y,a=relayuser,", "relayuser", b"Tr0ub4dor&3"), authenticated("relayuser"));
    assert_eq!(scram_client(&c, "n,,", "relayuser", b"wrong"), Step::Done(Outcome::Failed));
    // PLAIN also works for a user stored as SCRAM keys.
    assert_eq!(run(Mechanism::Plain, &c, Some(b"\0user\0pencil"), &[]), authenticated("user"));
    assert_eq!(run(Mechanism::Plain, &c, Some(b"\0user\0pencil2"), &[]), Step::Done(Outcome::Failed));
}

// ---- Hashes ---------------------------------------------------------------

#[test]
fn sha512_crypt_fixed_vector() {
    // From the SHA-crypt specification (Drepper), also in sha-crypt's tests.
    let c = sample().clone();
    assert_eq!(run(Mechanism::Plain, &c, Some(b"\0hashed\0Hello world!"), &[]), authenticated("hashed"));
    assert_eq!(run(Mechanism::Plain, &c, Some(b"\0hashed\0Hello world"), &[]), Step::Done(Outcome::Failed));
    let rounds = creds(
        "r $6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.\n",
    );
    assert!(rounds.lookup("r").unwrap().1.is_password(b"Hello world!"));
}

fn check_hash(hash: &str) {
    let c = creds(&format!("u {hash}\n"));
    let (_, stored) = c.lookup("u").unwrap();
    assert!(stored.is_password(b"s3cret pass"), "{hash}");
    assert!(!stored.is_password(b"s3cret pas"), "{hash}");
    assert!(!stored.is_password(b""), "{hash}");
    assert_eq!(run(Mechanism::Login, &c, Some(b"u"), &[b"s3cret pass"]), authenticated("u"));
    // Hash-only users get neither CRAM-MD5 nor SCRAM, so neither is offered.
    assert_eq!(offered_mechanisms(&c, &AuthPolicy::default(), true), [Mechanism::Plain, Mechanism::Login]);
}

#[test]
fn generated_sha512_crypt() {
    use sha_crypt::PasswordHasher as _;
    let hasher = sha_crypt::ShaCrypt::from(sha_crypt::Params::new(1000).unwrap());
    let hash = hasher.hash_password_with_salt(b"s3cret pass", b"abcdefgh").unwrap();
    assert!(hash.as_str().starts_with("$6$"));
    check_hash(hash.as_str());
}

#[test]
fn generated_argon2id() {
    use argon2::PasswordHasher as _;
    let params = argon2::Params::new(64, 1, 1, None).unwrap();
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let hash = hasher.hash_password_with_salt(b"s3cret pass", b"saltsaltsalt").unwrap().to_string();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    check_hash(&hash);
}

#[test]
fn generated_bcrypt() {
    let parts = bcrypt::hash_with_salt(b"s3cret pass", 4, [7; 16]).unwrap();
    for version in [bcrypt::Version::TwoB, bcrypt::Version::TwoY, bcrypt::Version::TwoA] {
        check_hash(&parts.format_for_version(version));
    }
}

// ---- The file -------------------------------------------------------------

#[test]
fn file_format() {
    let c = creds(
        "  # comment\n\
         \n\
         alice\t  pass # not a comment  \r\n\
         bob@Example.ORG {PLAIN}$1$looks-like-md5\n\
         carol #starts-with-hash\n",
    );
    assert_eq!(c.len(), 3);
    assert!(c.lookup("alice").unwrap().1.is_password(b"pass # not a comment"));
    let (login, stored) = c.lookup("bob@example.org").unwrap();
    assert_eq!(login, "bob@example.org");
    assert!(stored.is_password(b"$1$looks-like-md5"));
    assert!(c.lookup("Bob@example.org").is_none());
    assert!(c.lookup("carol").unwrap().1.is_password(b"#starts-with-hash"));
}

#[test]
fn file_errors_name_file_and_line() {
    let cases = [
        ("a b\nlonely\n", "users:2: login `lonely` has no password"),
        ("a b\n\na c\n", "users:3: login `a` appears again (first on line 1)"),
        ("a@B x\na@b y\n", "users:2: login `a@b` appears again (first on line 1)"),
        ("@example.org x\n", "users:1: login `@example.org` is malformed"),
        ("a@ x\n", "users:1: login `a@` is malformed"),
        ("a@b@c x\n", "users:1: login `a@b@c` is malformed"),
        ("a $1$salt$hash\n", "users:1: unsupported password hash"),
        ("a $6$\n", "users:1: bad SHA-512-crypt hash"),
        ("a $argon2id$garbage\n", "users:1: bad Argon2id hash"),
        ("a $2b$04$short\n", "users:1: bad bcrypt hash"),
        ("a SCRAM-SHA-256$0:AAAA$x:y\n", "users:1: bad SCRAM-SHA-256 keys"),
        ("a SCRAM-SHA-256$4096:AAAA$AAAA:AAAA\n", "users:1: bad SCRAM-SHA-256 keys: a key is not 32"),
    ];
    for (text, expected) in cases {
        let err = ServerCredentials::parse_str("users", text).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{text:?}: {err}");
    }
}

#[test]
fn load_checks_permissions() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("submit-users");
    std::fs::write(&path, "alice pass\nbob\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = ServerCredentials::load(&path).unwrap_err().to_string();
    assert!(err.contains("0640"), "{err}");
    assert!(err.contains(&format!("chmod 600 {}", path.display())), "{err}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = ServerCredentials::load(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{}:2: login `bob` has no password; expected `login[@domain]  password`", path.display())
    );
    std::fs::write(&path, "alice pass\n").unwrap();
    assert_eq!(ServerCredentials::load(&path).unwrap().len(), 1);
}

#[test]
fn scram_keys_round_trip() {
    let keys = ScramKeys::derive(b"pencil", &BASE64.decode(RFC7677_SALT).unwrap(), 4096);
    assert_eq!(keys.to_string().parse::<ScramKeys>().unwrap(), keys);
    assert!(!format!("{keys:?}").contains(&BASE64.encode(keys.stored_key)));
}

// ---- Offered mechanisms ---------------------------------------------------

#[test]
fn offered_mechanisms_table() {
    use Mechanism::*;
    let plain = creds("a b\n");
    let hashed = creds(
        "a $6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1\n",
    );
    let scram = creds(&format!("a {}\n", ScramKeys::derive(b"p", b"salt", 1)));
    let empty = ServerCredentials::default();
    let policy = AuthPolicy::default();
    let cases: [(&ServerCredentials, bool, &[Mechanism]); 7] = [
        (&plain, true, &[ScramSha256, CramMd5, Plain, Login]),
        (&plain, false, &[ScramSha256, CramMd5]),
        (&hashed, true, &[Plain, Login]),
        (&hashed, false, &[]),
        (&scram, true, &[ScramSha256, Plain, Login]),
        (&scram, false, &[ScramSha256]),
        (&empty, true, &[]),
    ];
    for (i, (creds, tls, expected)) in cases.into_iter().enumerate() {
        assert_eq!(offered_mechanisms(creds, &policy, tls), expected, "case {i}");
    }
    assert_eq!("cram-md5".parse(), Ok(CramMd5));
    assert_eq!("SCRAM-SHA-1".parse::<Mechanism>(), Err(UnknownMechanism));
}

// ---- Sender policy --------------------------------------------------------

#[test]
fn sender_policy_table() {
    let local = |d: &str| ["example.org", "relay.example"].contains(&d.to_ascii_lowercase().as_str());
    let cases = [
        ("alice", "alice@example.org", true),
        ("alice", "alice@EXAMPLE.org", true),
        ("alice", "alice@relay.example", true),
        ("alice", "alice@elsewhere.example", false),
        ("alice", "Alice@example.org", false),
        ("alice", "bob@example.org", false),
        ("alice", "alice", false),
        ("alice", "alice@", false),
        ("alice", "", false),
        ("alice@example.net", "alice@example.net", true),
        ("alice@example.net", "alice@Example.NET", true),
        ("alice@Example.NET", "alice@example.net", true),
        ("alice@example.net", "Alice@example.net", false),
        ("alice@example.net", "alice@example.org", false),
        ("alice@example.net", "bob@example.net", false),
        ("alice@example.net", "", false),
    ];
    for (login, sender, allowed) in cases {
        let verdict = check_sender(SenderPolicy::MustMatchLogin, login, sender, local);
        assert_eq!(verdict == SenderVerdict::Allowed, allowed, "{login} sending as <{sender}>");
        assert_eq!(check_sender(SenderPolicy::Any, login, sender, local), SenderVerdict::Allowed);
    }
    let verdict = check_sender(SenderPolicy::MustMatchLogin, "alice", "", local);
    assert_eq!(verdict.reply().unwrap(), "553 5.7.1 Sender address <> not owned by user alice");
}

// ---- Properties -----------------------------------------------------------

fn is_success(step: &Step) -> bool {
    matches!(step, Step::Done(Outcome::Authenticated { .. }))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_responses_never_authenticate(
        mech in prop::sample::select(Mechanism::ALL.to_vec()),
        ir in prop::option::of(prop::collection::vec(any::<u8>(), 0..80)),
        responses in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 0..4),
    ) {
        let c = sample().clone();
        let mut sasl = start(mech, &c, ctx(true));
        let mut step = sasl.handle_start(ir.as_deref());
        for r in &responses {
            prop_assert!(!is_success(&step), "authenticated: {:?}", step);
            step = sasl.handle_response(r);
        }
        prop_assert!(!is_success(&step), "authenticated: {:?}", step);
    }

    #[test]
    fn plain_near_misses_fail(password in "[ -~]{0,20}") {
        prop_assume!(password != "Tr0ub4dor&3");
        let c = sample().clone();
        let response = format!("\0relayuser\0{password}");
        let step = run(Mechanism::Plain, &c, Some(response.as_bytes()), &[]);
        prop_assert!(!is_success(&step), "authenticated: {:?}", step);
    }
}
