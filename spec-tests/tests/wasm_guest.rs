//! The vector runner compiled to wasm32 (`spec-tests/guest`) under wasmtime.
//!
//! The module must import nothing (proof that the core does no I/O), and its
//! verdicts on every vector file (the project's and `$SOLARWIRE_EXTRA_VECTORS`)
//! must be byte-identical to the native run's, with every vector passing.
//!
//! The test is `#[ignore]`d because it needs the guest module, which only the
//! wasm toolchain builds: `just test-wasm` builds it and runs
//! `SPEC_GUEST_WASM=<module> cargo test -p solarwire-spec --test wasm_guest -- --ignored`.
//! Run that way without the variable, it fails loudly instead of passing.
#![allow(clippy::print_stdout)] // the runner format (spec/vectors.md) is printed output

use serde_json::Value;
use solarwire_spec::{evaluate, files};
use wasmtime::{Engine, Instance, Memory, Module, Store, TypedFunc};

/// The guest's exports, instantiated once for all files.
struct Guest {
    store: Store<()>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    dealloc: TypedFunc<(u32, u32), ()>,
    evaluate: TypedFunc<(u32, u32), u64>,
}

impl Guest {
    fn new(module: &Module) -> Self {
        let mut store = Store::new(module.engine(), ());
        let instance = Instance::new(&mut store, module, &[]).expect("the guest instantiates");
        let memory = instance
            .get_memory(&mut store, "memory")
            .expect("the guest exports its memory");
        let alloc = instance.get_typed_func(&mut store, "alloc").expect("alloc");
        let dealloc = instance
            .get_typed_func(&mut store, "dealloc")
            .expect("dealloc");
        let evaluate = instance
            .get_typed_func(&mut store, "evaluate")
            .expect("evaluate");
        Self {
            store,
            memory,
            alloc,
            dealloc,
            evaluate,
        }
    }

    /// The guest's JSON answer for one vector file.
    fn evaluate(&mut self, file: &str) -> Value {
        let len = u32::try_from(file.len()).expect("a vector file fits wasm32 memory");
        let input = self.alloc.call(&mut self.store, len).expect("alloc");
        self.memory
            .write(&mut self.store, input as usize, file.as_bytes())
            .expect("the input buffer is inside memory");
        let packed = self
            .evaluate
            .call(&mut self.store, (input, len))
            .expect("evaluate does not trap");
        let (ptr, out_len) = ((packed >> 32) as u32, packed as u32);
        let mut answer = vec![0; out_len as usize];
        self.memory
            .read(&self.store, ptr as usize, &mut answer)
            .expect("the answer is inside memory");
        for buffer in [(input, len), (ptr, out_len)] {
            self.dealloc.call(&mut self.store, buffer).expect("dealloc");
        }
        serde_json::from_slice(&answer).expect("the answer is JSON")
    }
}

#[test]
#[ignore = "needs the guest module in $SPEC_GUEST_WASM; run by `just test-wasm`"]
fn guest_matches_native_on_every_vector() {
    let path = std::env::var_os("SPEC_GUEST_WASM").unwrap_or_else(|| {
        panic!("SPEC_GUEST_WASM is not set: build the guest with `just build-wasm` and name its .wasm file")
    });
    let module = Module::from_file(&Engine::default(), &path)
        .unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()));
    let imports: Vec<String> = module
        .imports()
        .map(|i| format!("{}::{}", i.module(), i.name()))
        .collect();
    assert!(
        imports.is_empty(),
        "the guest must import nothing, imports {imports:?}"
    );
    let mut guest = Guest::new(&module);

    let mut problems = Vec::new();
    let mut passed = 0;
    for path in files::all_vector_files().expect("vector directories are readable") {
        let text = std::fs::read_to_string(&path).expect("vector files are UTF-8 text");
        let shown = path.display().to_string();
        let (file_passed, file_problems) = compare(&shown, &guest.evaluate(&text), &text);
        println!(
            "{shown}: {file_passed} passed, {} failed",
            file_problems.len()
        );
        passed += file_passed;
        problems.extend(file_problems);
    }
    assert!(passed > 0, "no vector ran");
    println!("wasmtime: {passed} passed, {} failed", problems.len());
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Checks the guest's answer on one file against the native run: the same
/// verdict lines and the same failing vectors. Returns how many vectors
/// passed and a line per failing vector (or the file's error).
fn compare(shown: &str, answer: &Value, file: &str) -> (usize, Vec<String>) {
    match (evaluate(file), answer.get("file_error")) {
        (Ok(report), None) => {
            assert_eq!(
                answer["verdicts"].as_str(),
                Some(report.verdicts().as_str()),
                "{shown}: the guest's verdicts differ from the native run's"
            );
            assert_eq!(answer["passed"], report.passed(), "{shown}: passed count");
            let failures = answer["failures"].as_array().cloned().unwrap_or_default();
            let ids: Vec<&str> = failures.iter().filter_map(|f| f["id"].as_str()).collect();
            let native: Vec<&str> = report.failed().map(|c| c.id.as_str()).collect();
            assert_eq!(ids, native, "{shown}: failing vectors");
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            let lines = failures
                .iter()
                .map(|f| {
                    let comment = f["comment"].as_str().map(|c| format!(" \"{c}\""));
                    let (id, failure) = (text(&f["id"]), text(&f["failure"]));
                    format!("{shown} #{id}{}: {failure}", comment.unwrap_or_default())
                })
                .collect();
            (report.passed(), lines)
        }
        (Err(e), Some(guest)) => {
            assert_eq!(guest.as_str(), Some(e.to_string().as_str()), "{shown}");
            (0, vec![format!("{shown}: cannot run: {e}")])
        }
        (native, guest) => panic!("{shown}: native {native:?} but guest file error {guest:?}"),
    }
}
