//! Test fixture component: echo functions for every kind of WIT value, and
//! functions that are slow, fail or trap. Every body writes one stderr line
//! (`typed: ran <function>`) so tests can count executions.

activity_sdk::bindings!("example:typed/typed");

use activity_sdk::Rule;
use activity_sdk::actor_cache::get_or_compute;
use bindings::exports::example::typed::{behave, echo, helpers};
use echo::{Color, Perms, Point, Shape};

struct Typed;

const ECHOES: &[&str] = &[
    "echo-bool",
    "echo-ints",
    "echo-floats",
    "echo-char",
    "echo-string",
    "echo-lists",
    "echo-record",
    "echo-variant",
    "echo-enum",
    "echo-flags",
    "echo-option",
    "echo-result",
    "echo-bare-result",
    "echo-nested",
];

impl bindings::exports::activity::cache::rules::Guest for Typed {
    fn declare() -> Vec<Rule> {
        let mut rules: Vec<Rule> = ECHOES
            .iter()
            .map(|name| Rule::inputs(&format!("echo#{name}")))
            .collect();
        rules.push(Rule::inputs("behave#echo-string"));
        rules.push(Rule::inputs("noop"));
        rules.push(Rule::inputs("lookup").ignore("trace-id"));
        rules.push(Rule::inputs("slow"));
        rules.push(Rule::inputs("divide"));
        rules.push(Rule::inputs("reverse-bytes"));
        rules
    }
}

/// Writes `typed: ran <function>` to stderr in one write, so lines of
/// concurrent instances never interleave.
fn ran(function: &str) {
    use std::io::Write;
    let line = format!("typed: ran {function}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

type Ints = (i8, u8, i16, u16, i32, u32, i64, u64);
type Nested = Vec<(Shape, Option<Perms>, Result<(), String>)>;

impl echo::Guest for Typed {
    fn echo_bool(x: bool) -> bool {
        ran("echo-bool");
        x
    }

    #[allow(clippy::too_many_arguments)] // the signature is the point
    fn echo_ints(a: i8, b: u8, c: i16, d: u16, e: i32, f: u32, g: i64, h: u64) -> Ints {
        ran("echo-ints");
        (a, b, c, d, e, f, g, h)
    }

    fn echo_floats(a: f32, b: f64) -> (f32, f64) {
        ran("echo-floats");
        (a, b)
    }

    fn echo_char(c: char) -> char {
        ran("echo-char");
        c
    }

    fn echo_string(s: String) -> String {
        ran("echo-string");
        s
    }

    fn echo_lists(l: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        ran("echo-lists");
        l
    }

    fn echo_record(p: Point) -> Point {
        ran("echo-record");
        p
    }

    fn echo_variant(s: Shape) -> Shape {
        ran("echo-variant");
        s
    }

    fn echo_enum(c: Color) -> Color {
        ran("echo-enum");
        c
    }

    fn echo_flags(p: Perms) -> Perms {
        ran("echo-flags");
        p
    }

    fn echo_option(o: Option<Option<String>>) -> Option<Option<String>> {
        ran("echo-option");
        o
    }

    fn echo_result(r: Result<Point, Color>) -> Result<Point, Color> {
        ran("echo-result");
        r
    }

    fn echo_bare_result(r: Result<(), ()>) -> Result<(), ()> {
        ran("echo-bare-result");
        r
    }

    fn echo_nested(n: Nested) -> Nested {
        ran("echo-nested");
        n
    }
}

impl behave::Guest for Typed {
    fn noop() {}

    fn lookup(id: u32, _trace_id: String) -> Result<String, String> {
        ran("lookup");
        if id % 2 == 0 {
            Ok(format!("item {id}"))
        } else {
            Err(format!("no item {id}"))
        }
    }

    fn slow(id: u32, ms: u32) -> u32 {
        ran("slow");
        std::thread::sleep(std::time::Duration::from_millis(ms.into()));
        id
    }

    fn spin() {
        ran("spin");
        let mut n = 0u64;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }

    fn hog(mib: u32) -> u32 {
        ran("hog");
        let bytes = vec![1u8; mib as usize * 1024 * 1024];
        std::hint::black_box(&bytes);
        mib
    }

    fn reverse_bytes(mut data: Vec<u8>) -> Vec<u8> {
        ran("reverse-bytes");
        data.reverse();
        data
    }

    fn read_file(path: String) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }

    fn write_file(path: String, text: String) -> Result<(), String> {
        std::fs::write(path, text).map_err(|e| e.to_string())
    }

    fn env_var(name: String) -> Option<String> {
        std::env::var(name).ok()
    }

    fn say(text: String) {
        use std::io::Write;
        let _ = std::io::stdout().write_all(format!("out: {text}\n").as_bytes());
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().write_all(format!("err: {text}\n").as_bytes());
    }

    fn divide(x: u32) -> u32 {
        ran("divide");
        100 / x
    }

    fn echo_string(s: String) -> String {
        ran("behave#echo-string");
        s.to_uppercase()
    }

    fn count() -> u32 {
        static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    }

    type Counter = Counter;

    fn read_counter(_: behave::CounterBorrow<'_>) -> u32 {
        0
    }
}

/// The `counter` resource.
struct Counter;

impl behave::GuestCounter for Counter {
    fn new() -> Self {
        Counter
    }
}

fn sleep_ms(ms: u32) {
    std::thread::sleep(std::time::Duration::from_millis(ms.into()));
}

impl helpers::Guest for Typed {
    fn square(x: u32, ms: u32) -> u32 {
        get_or_compute("square", &x, || {
            ran("square");
            sleep_ms(ms);
            x.wrapping_mul(x)
        })
    }

    fn square_then_trap(x: u32, ms: u32) -> u32 {
        get_or_compute("square", &x, || {
            ran("square (about to trap)");
            sleep_ms(ms);
            panic!("square-then-trap traps while computing")
        })
    }

    fn shared(key: String) -> String {
        get_or_compute("shared", &key, || {
            ran("shared");
            format!("computed {key}")
        })
    }

    fn recurse() -> u32 {
        get_or_compute("recurse", &(), || {
            ran("recurse");
            get_or_compute("recurse", &(), || 1u32)
        })
    }
}

bindings::export!(Typed with_types_in bindings);
