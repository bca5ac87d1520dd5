//! Linear time in the size of every input: each input kind at its cap (the largest input the
//! tool accepts) against a quarter of it. Not a benchmark (figures belong to `cargo xtask
//! bench`): a complexity test. Linear work takes about 4× as long on 4× the input; quadratic
//! work about 16×. Each case asserts the ratio stays under 10 and that the input at its cap is
//! handled within 2 s in a debug build (issue 22: 33,000 example keys took 77 s), and prints
//! its figures (`cargo test -p xtask --lib linear -- --nocapture`).

use std::time::{Duration, Instant};

use crate::context::{Ctx, Model};
use crate::envcontract::{Example, ExampleKey};
use crate::rules::{run, Input, Sources};

/// The acceptance bound at the cap (a debug build).
const AT_CAP: Duration = Duration::from_secs(2);
/// Linear work gives about 4, quadratic about 16: between them, with room for noise and
/// cache effects at the cap (the Dockerfile parser measured 7.1 on an idle machine).
const MAX_RATIO: f64 = 10.0;
/// Below this the quarter-size run is too short to time: it counts as this long.
const FLOOR: Duration = Duration::from_millis(5);

/// One case at a time: the cases would otherwise time each other.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn timed(f: &dyn Fn()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// Times `work` on `make(cap / 4)` and `make(cap)` (inputs made outside the timing): five
/// rounds, small and big interleaved, the fastest of each kept (the least disturbed by other
/// work on the machine). A ratio over the bound is measured again, up to three times: noise
/// passes on a later attempt, quadratic work fails every one.
fn assert_linear<T>(what: &str, cap: usize, make: impl Fn(usize) -> T, work: impl Fn(&T)) {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (small, big) = (make(cap / 4), make(cap));
    let mut last = (Duration::ZERO, Duration::ZERO, 0.0);
    for attempt in 1..=3 {
        let (mut t_small, mut t_big) = (Duration::MAX, Duration::MAX);
        for _ in 0..5 {
            t_small = t_small.min(timed(&|| work(&small)));
            t_big = t_big.min(timed(&|| work(&big)));
        }
        let ratio = t_big.as_secs_f64() / t_small.max(FLOOR).as_secs_f64();
        println!(
            "{what} (attempt {attempt}): {} units {t_small:?}, {cap} units {t_big:?}, ratio {ratio:.1} (linear ≈ 4, quadratic ≈ 16)",
            cap / 4
        );
        last = (t_small, t_big, ratio);
        if ratio < MAX_RATIO && t_big < AT_CAP {
            return;
        }
    }
    let (_, t_big, ratio) = last;
    assert!(
        ratio < MAX_RATIO,
        "{what}: 4× the input took {ratio:.1}× as long: superlinear"
    );
    assert!(
        t_big < AT_CAP,
        "{what}: {t_big:?} at the cap, over {AT_CAP:?}"
    );
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .to_path_buf()
}

fn sample() -> Model {
    Ctx::new(&root(), None).model().expect("the sample's model")
}

/// An env example of `bytes` bytes: `K<i>=` lines, the most keys that size holds, with a
/// secret and a commented-out key now and then.
fn example_text(bytes: usize) -> String {
    let mut t = String::with_capacity(bytes);
    let mut i = 0;
    while t.len() < bytes - 16 {
        let line = match i % 10 {
            0 => format!("K{i}_SECRET=\n"),
            1 => format!("# K{i}=x\n"),
            _ => format!("K{i}=v\n"),
        };
        t.push_str(&line);
        i += 1;
    }
    t
}

const EXAMPLE_CAP: usize = 256 * 1024;

#[test]
fn the_env_example_parse_and_contract_are_linear() {
    let m = sample();
    assert_linear(
        "env example → contract",
        EXAMPLE_CAP,
        example_text,
        |text| {
            let keys: Vec<ExampleKey> =
                crate::envcontract::parse_example(text, "apps/api/.env.example");
            let ex = Example {
                files: vec!["apps/api/.env.example".into()],
                keys,
            };
            crate::stack::build(&m.config, &m.workspace, &m.closure, &ex).expect("stack");
        },
    );
}

#[test]
fn gen_and_the_rules_are_linear_in_the_env_example() {
    let m = sample();
    let model_of = |bytes: usize| {
        let ex = Example {
            files: vec!["apps/api/.env.example".into()],
            keys: crate::envcontract::parse_example(&example_text(bytes), "apps/api/.env.example"),
        };
        let stack = crate::stack::build(&m.config, &m.workspace, &m.closure, &ex).expect("stack");
        Model { stack, ..m.clone() }
    };
    assert_linear("render::all (gen)", EXAMPLE_CAP, model_of, |m| {
        crate::render::all(&m.stack);
    });
    let with_files = |bytes: usize| {
        let m = model_of(bytes);
        let files = crate::render::all(&m.stack);
        let text = |p: &str| {
            files
                .iter()
                .find(|f| f.path == p)
                .map(|f| f.contents.clone())
        };
        let src = Sources {
            dockerfile: text(crate::stack::DOCKERFILE),
            ignore: text(crate::stack::DOCKERIGNORE),
            compose: text(crate::stack::COMPOSE),
            caddyfile: text(crate::stack::CADDYFILE),
            workflow: text(crate::stack::WORKFLOW),
        };
        (m, src)
    };
    assert_linear(
        "the rules (verify --static)",
        EXAMPLE_CAP,
        with_files,
        |(m, src)| {
            let input = Input::new(m, &root(), src);
            let found = run(&input);
            assert!(found.len() < 10, "{found:#?}");
        },
    );
}

#[test]
fn the_parsers_of_generated_files_are_linear() {
    let cap = crate::files::MAX_GENERATED as usize;
    let repeat = |unit: &str, bytes: usize| unit.repeat(bytes / unit.len());
    assert_linear(
        "Dockerfile parser",
        cap,
        |b| repeat("RUN echo a \\\n  && echo b\nENV A=1 B=2\n", b),
        |t| {
            crate::parse::dockerfile::parse(t);
        },
    );
    assert_linear(
        "Caddyfile parser",
        cap,
        |b| {
            format!(
                ":80 {{\n{}}}\n",
                repeat("\trespond /a 200\n\theader X-A \"b\"\n", b)
            )
        },
        |t| {
            crate::parse::caddyfile::parse(t);
        },
    );
    assert_linear(
        "ignore file parser",
        cap,
        |b| repeat("**/node_modules\n!apps/api/src\n*.log\n", b),
        |t| {
            crate::parse::ignore::parse(t);
        },
    );
}

#[test]
fn the_config_is_linear_in_its_api_env_table() {
    // [api.env] is the config's one table of any length; the config's cap is 8 MiB, but
    // `[api.env]` keys reach the contract like the example's: a 256 kB table is measured
    let cap = EXAMPLE_CAP;
    let make = |bytes: usize| {
        let mut t = String::from("[api.env]\n");
        let mut i = 0;
        while t.len() < bytes {
            t.push_str(&format!("K{i} = \"v\"\n"));
            i += 1;
        }
        t
    };
    assert_linear("config [api.env]", cap, make, |t| {
        crate::config::parse(t, "stack.toml").expect("parses");
    });
}

#[test]
fn the_lockfile_check_is_linear() {
    // importers with many dependencies (the lockfile's cap, 256 MiB, is past what a unit test
    // builds; 4 MiB of importer entries stands for it)
    let cap = 4 << 20;
    let make = |bytes: usize| {
        let mut t = String::from("lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n");
        let mut i = 0;
        while t.len() < bytes {
            t.push_str(&format!(
                "      dep-{i}:\n        specifier: ^1.0.0\n        version: 1.0.0\n"
            ));
            i += 1;
        }
        t
    };
    assert_linear("lockfile parser", cap, make, |t| {
        crate::workspace::lockfile::Lockfile::parse(t).expect("parses");
    });
}
