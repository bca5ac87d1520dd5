//! `cargo xtask gen` end to end: the committed infra/ is fresh, and changes to the
//! config or the workspace show up exactly where expected.

use xtask_tests::*;

#[test]
fn committed_infra_is_fresh() {
    let r = xtask(&repo_root(), &["gen", "--check"]);
    assert_eq!(
        r.code,
        0,
        "infra/ is stale; run `cargo xtask gen`:\n{}",
        r.all()
    );
}
