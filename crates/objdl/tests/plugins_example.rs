//! Runs the plugins example (`examples/plugins/`) and checks its story:
//! what each plugin says in answer to each step of the host, in order.

#[path = "../examples/plugins/host.rs"]
mod host;

/// The example's output as (host line, what the plugins said right after it).
fn steps(output: &str) -> Vec<(String, Vec<String>)> {
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    for line in output.lines() {
        if let Some(said) = line.strip_prefix(host::PLUGIN_PREFIX) {
            let (_, plugins) = steps.last_mut().expect("a plugin spoke before the host");
            plugins.push(said.to_string());
        } else if let Some(text) = line.strip_prefix("host: ") {
            steps.push((text.to_string(), Vec::new()));
        }
    }
    steps
}

#[test]
fn plugins_load_call_unload_and_reload_in_order() {
    let mut out = Vec::new();
    host::run(&mut out).expect("the example runs");
    let output = String::from_utf8(out).unwrap();
    let steps = steps(&output);

    // Each host step that makes a plugin speak, in order, with exactly what
    // the plugins say before the host's next line.
    let expected: &[(&str, &[&str])] = &[
        // Round 1.
        (
            "open counter.o with Scope::Global",
            &["counter: constructor (host version 2)"],
        ),
        ("open greeter.o", &["greeter: constructor"]),
        (
            "call greet(\"alice\")",
            &["greeter: hello, alice! you are visitor #1"],
        ),
        (
            "call greet(\"bob\")",
            &["greeter: hello, bob! you are visitor #2"],
        ),
        // The host and the greeter share one counter.
        ("call counter_next() in counter.o: 3", &[]),
        (
            "close greeter.o",
            &["greeter: destructor (counter.o still answers: count 3)"],
        ),
        // Nothing else holds counter.o: it unloads at close, atexit
        // handler first, then the destructor.
        (
            "close counter.o: no unit uses it any more",
            &[
                "counter: atexit handler (final count 3)",
                "counter: destructor",
            ],
        ),
        ("both unloaded", &[]),
        // Round 2: fresh constructors, fresh state.
        (
            "open counter.o with Scope::Global",
            &["counter: constructor (host version 2)"],
        ),
        ("open greeter.o", &["greeter: constructor"]),
        (
            "call greet(\"carol\")",
            &["greeter: hello, carol! you are visitor #1"],
        ),
        ("greet returned 1", &[]),
        // greeter.o binds to counter.o: closing counter.o's handle runs nothing.
        ("close counter.o's handle while greeter.o is open", &[]),
        ("nothing ran", &[]),
        (
            "call greet(\"dave\")",
            &["greeter: hello, dave! you are visitor #2"],
        ),
        // Closing greeter.o releases counter.o: greeter.o's destructor
        // (which still calls counter.o), then counter.o's atexit handler
        // and destructor.
        (
            "close greeter.o: counter.o loses its last user",
            &[
                "greeter: destructor (counter.o still answers: count 2)",
                "counter: atexit handler (final count 2)",
                "counter: destructor",
            ],
        ),
        ("both unloaded", &[]),
    ];

    let mut at = 0;
    for (host_line, plugins) in expected {
        let found = steps[at..]
            .iter()
            .position(|(h, _)| h.starts_with(host_line))
            .unwrap_or_else(|| {
                panic!("no host line {host_line:?} after step {at}; output:\n{output}")
            });
        at += found;
        assert_eq!(
            steps[at].1, *plugins,
            "after host line {:?}; output:\n{output}",
            steps[at].0
        );
        at += 1;
    }

    // Every plugin line is accounted for: none spoke outside the steps above.
    let all: Vec<&String> = steps.iter().flat_map(|(_, p)| p).collect();
    let listed: usize = expected.iter().map(|(_, p)| p.len()).sum();
    assert_eq!(all.len(), listed, "output:\n{output}");

    // The reloaded units report where they are.
    for unit in ["counter.o", "greeter.o"] {
        let reports = steps
            .iter()
            .filter(|(h, _)| h.starts_with(&format!("{unit} is at 0x")))
            .count();
        assert_eq!(reports, 2, "{unit} placed twice; output:\n{output}");
    }
}

/// The example runs again in the same process, from other threads, with
/// the same story: nothing of a closed unit lingers, and the process-wide
/// `host_log` sink gives each run only its own plugins' lines.
#[test]
fn runs_again_from_other_threads() {
    let runs: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(|| {
                let mut out = Vec::new();
                host::run(&mut out).expect("the example runs");
                String::from_utf8(out).unwrap()
            })
        })
        .collect();
    for run in runs {
        let output = run.join().unwrap();
        let constructors = output
            .lines()
            .filter(|l| l.ends_with("counter: constructor (host version 2)"))
            .count();
        assert_eq!(constructors, 2, "output:\n{output}");
    }
}
