//! The SDK macros reject misuse at compile time, pointing at the offending
//! span; and the SDK's vendored contract is the repository's `wit/`.

#[test]
fn misuse_is_a_compile_error_at_the_offending_span() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}

#[test]
fn the_vendored_contract_is_identical_to_wit() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let contract = std::fs::read_to_string(root.join("wit/cache.wit")).unwrap();
    let vendored = std::fs::read_to_string(root.join("guest-sdk/wit/cache.wit")).unwrap();
    assert!(
        contract == vendored,
        "guest-sdk/wit/cache.wit differs from wit/cache.wit: copy wit/cache.wit over it"
    );
    let wit_files = std::fs::read_dir(root.join("wit")).unwrap().count();
    assert_eq!(wit_files, 1, "vendor every file of wit/ in guest-sdk/wit/");
}
