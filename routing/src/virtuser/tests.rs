use smarthost_maps::{Source, SourceOptions, TextMap};

use super::*;

fn keys(local: &str) -> Vec<String> {
    search_keys(local, "d.example").into_iter().map(|(key, _)| key).collect()
}

#[test]
fn the_search_order_of_spec_4_2() {
    assert_eq!(keys("user"), ["user@d.example", "@d.example"]);
    assert_eq!(
        keys("user+det"),
        [
            "user+det@d.example",
            "user++@d.example",
            "user+*@d.example",
            "user@d.example",
            "++@d.example",
            "+*@d.example",
            "@d.example"
        ]
    );
    // An empty detail skips the `++` keys; a leading `+` has no user.
    assert_eq!(
        keys("user+"),
        ["user+@d.example", "user+*@d.example", "user@d.example", "+*@d.example", "@d.example"]
    );
    assert_eq!(keys("+x"), ["+x@d.example", "@d.example"]);
}

#[test]
fn each_key_supplies_its_arguments() {
    let args: Vec<[String; 3]> = search_keys("a+b+c", "d").into_iter().map(|(_, args)| args).collect();
    assert_eq!(args[0], ["a+b+c".to_string(), String::new(), String::new()]);
    for later in &args[1..] {
        assert_eq!(later, &["a".to_string(), "b+c".into(), "+b+c".into()]);
    }
    let plain: Vec<[String; 3]> = search_keys("a", "d").into_iter().map(|(_, args)| args).collect();
    assert_eq!(plain[1], ["a".to_string(), String::new(), String::new()]);
}

#[test]
fn values_are_interpolated_then_read() {
    let (map, _) = TextMap::from_source(
        b"@d.example %0|%1|%2|%3|%4|%%\nx@d.example a, b\ny@d.example not an address\nz@d.example ERROR:5.1.1:550 Gone\n",
        &SourceOptions::default(),
    );
    let table = Virtusertable::new(&map);
    let found = table.lookup("u+v", "d.example", None).unwrap().unwrap();
    assert_eq!(found.expanded, "@d.example|u|v|+v||%");
    assert!(matches!(found.target, VirtuserTarget::Invalid { .. }), "{:?}", found.target);
    let several = table.lookup("x", "d.example", None).unwrap().unwrap();
    assert!(several.target.to_string().contains("several addresses"), "{}", several.target);
    let bad = table.lookup("y", "d.example", None).unwrap().unwrap();
    assert!(bad.target.to_string().contains("is not an address"), "{}", bad.target);
    let upper = table.lookup("z", "d.example", None).unwrap().unwrap();
    assert_eq!(upper.target.to_string(), "550 5.1.1 Gone");
    let mut probes = Vec::new();
    assert!(table.lookup("q", "other.example", Some(&mut probes)).unwrap().is_none());
    assert_eq!(
        probes.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
        ["q@other.example", "@other.example"]
    );
}

#[test]
fn domain_files_are_read_like_class_files() {
    let mut domains = VirtuserDomains::default();
    assert!(domains.is_empty());
    assert_eq!(domains.load_str("# virtual\nA.example b.example.\n  # more\nc.example\n"), 3);
    assert_eq!(domains.names(), ["a.example", "b.example", "c.example"]);
    assert!(domains.contains("b.example."));
    assert!(!domains.contains("x.b.example"));
    let error = domains.load_file(Path::new("/nonexistent/virthosts")).unwrap_err();
    assert!(error.to_string().starts_with("/nonexistent/virthosts: cannot read"), "{error}");
}

#[test]
fn lints_name_the_quirks_and_the_fix() {
    let source = Source::parse(
        b"a@d error:nouser 550 No such user here\n\
          b@d error:550 Not here\n\
          c@d error:nouser:No such host\n\
          d@d error:5.7.0 550 Address invalid\n\
          e@d error:nouser Spammers found this address\n\
          f@d error:5.1.1:550 User unknown\n\
          nodomain x\n\
          g@d a, b\n\
          h@d %1@other\n",
        &SourceOptions::default(),
    );
    let lints = lint_virtusertable(source.entries());
    let lines: Vec<(usize, bool)> =
        lints.iter().map(|l| (l.line, l.message.contains("error:D.S.N:CODE text"))).collect();
    assert_eq!(lines, [(1, true), (2, true), (3, true), (4, true), (5, true), (7, false), (8, false)]);
    assert!(lints[0].message.contains("550 5.0.0"), "{}", lints[0]);
    assert!(lints[1].message.contains("553 5.3.0"), "{}", lints[1]);
    assert!(lints[2].message.contains("not a colon"), "{}", lints[2]);
    assert!(lints[5].to_string().starts_with("line 7: key `nodomain`: "), "{}", lints[5]);
}
