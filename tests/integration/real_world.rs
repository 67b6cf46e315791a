//! Failure classes met on real open-source suites (issue "Real-world
//! suites"): recordings that must never be lost, and one-line changes that
//! must select what runs them, not the whole suite.

use crate::run::impact_run_command;
use crate::support::TestRepo;

/// A test file whose text is not ASCII (a banner of box-drawing characters
/// inside a multi-line string, accents, emoji) is recorded: its string
/// tokens are read at merge time, and this once crashed the merge.
#[test]
fn a_test_file_with_box_drawing_characters_is_recorded() {
    let mut repo = TestRepo::with_fixture("sample");
    repo.write(
        "tests/test_banner.py",
        "BANNER = \"\"\"\n╭──────╮\n│ 'shop' │ é 👍🏽\n╰──────╯\n\"\"\"\n\n\n\
         def test_banner():\n    assert \"shop\" in BANNER and '╭' in BANNER\n",
    );
    repo.commit_all("banner");
    let run = impact_run_command(&repo, &[], &[]).run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("46 passed"), "{run:#?}");
    assert!(run.stderr.contains("recorded 46 tests"), "{run:#?}");
    let status = repo
        .impact()
        .args(["status", "--format", "json"])
        .ok()
        .json();
    assert_eq!(status["tests"], 46, "{status:#}");
}

/// When merging fails after pytest exits, what pytest measured is kept
/// beside the data file, every command says so, and `impact merge-pending`
/// merges it once the cause is gone. Here the cause is real: a conftest hook
/// that runs after impact's plugin wrote its results corrupts them.
#[test]
fn a_failed_merge_keeps_the_results_for_merge_pending() {
    let repo = TestRepo::with_fixture("sample");
    let conftest = repo.read("tests/conftest.py");
    repo.write(
        "tests/conftest.py",
        &format!(
            "{conftest}\n\ndef pytest_unconfigure(config):\n    \
             import glob, os\n    \
             for path in glob.glob(os.path.join(os.environ['IMPACT_OUT'], 'results-*.json')):\n        \
             with open(path, 'a') as fh:\n            fh.write('TRUNCATED')\n"
        ),
    );
    let run = impact_run_command(&repo, &[], &[]).run();
    assert_eq!(run.code, 3, "{run:#?}");
    assert!(run.stdout.contains("45 passed"), "{run:#?}");
    assert!(
        run.stderr
            .contains("failed to merge the results of this run into")
            && run.stderr.contains("impact merge-pending")
            && run.stderr.contains("malformed"),
        "{run:#?}"
    );
    let pending = repo.path().join(".impact.db.pending");
    let kept: Vec<_> = std::fs::read_dir(&pending)
        .unwrap_or_else(|e| panic!("{} must exist ({e}): {run:#?}", pending.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].join("impact-run.json").is_file());

    // Every command warns while the run waits.
    let select = repo.impact().args(["select"]).run();
    assert!(
        select
            .stderr
            .contains("1 run whose results could not be merged")
            && select.stderr.contains("impact merge-pending"),
        "{select:#?}"
    );

    // Merging again while the cause remains keeps the run where it is.
    let again = repo.impact().args(["merge-pending"]).run();
    assert_eq!(again.code, 3, "{again:#?}");
    assert!(kept[0].is_dir());

    // The cause fixed: the results merge, and the run leaves the queue.
    for entry in std::fs::read_dir(&kept[0]).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("results-") && name.ends_with(".json") {
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, text.trim_end_matches("TRUNCATED")).unwrap();
        }
    }
    let merged = repo.impact().args(["merge-pending"]).run();
    assert_eq!(merged.code, 0, "{merged:#?}");
    assert!(merged.stderr.contains("recorded 45 tests"), "{merged:#?}");
    assert!(!pending.exists(), "the queue is emptied");
    let status = repo.impact().args(["status", "--format", "json"]).ok();
    assert!(!status.stderr.contains("merge-pending"), "{status:#?}");
    assert_eq!(status.json()["tests"], 45);
    let who = repo
        .impact()
        .args(["who", "shop/cart.py", "--format", "json"])
        .ok()
        .json();
    assert!(who["tests"].as_array().unwrap().len() > 5, "{who:#}");
}
