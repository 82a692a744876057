//! The Dana sources in `dana/` checked against the interfaces they use, without a Dana compiler.
//!
//! `dana/stdlib-signatures.txt` records, as facts, the standard-library interfaces and data types
//! the sources rely on (read from the standard library's sources, each block with the commit it
//! came from), and `dana/resources/` holds the project's own interfaces. Every `.dn` file under
//! `dana/` is read by `dana_source` and must only provide and require known interfaces, call
//! functions they declare with a number of arguments their parameters (and `opt`) allow, read
//! fields and constants that exist, implement what it provides with the declared signatures,
//! and never `throw`. Deliberately broken copies of the stubs show each rule failing.

mod dana_source;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use dana_source::{Catalog, FileReport, Target};

/// The recorded standard-library facts.
const FIXTURE: &str = include_str!("../../dana/stdlib-signatures.txt");

/// The component that talks to the coordinator, as it is in `dana/`.
const COMPONENT_PATH: &str = "coordinator/Coordinator.dn";
/// The browser main app's loop component.
const LOOP_PATH: &str = "app/MainAppLoop.dn";
/// The browser main app.
const MAIN_LOOP_PATH: &str = "app/mainLoop.dn";
/// The blocking main app.
const MAIN_WASM_PATH: &str = "app/mainWasm.dn";
/// The coordinator interface.
const INTERFACE_PATH: &str = "resources/coordinator/Coordinator.dn";

/// The Coordinator functions that make an HTTP request (and so wait on the network).
const REQUESTING: &[&str] = &[
    "submitTask",
    "waitForResult",
    "status",
    "tryResult",
    "cancel",
];

fn dana_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dana")
}

fn collect(dir: &Path, root: &Path, files: &mut BTreeMap<String, String>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            // compiled output (git-ignored) holds no sources
            if path.file_name().is_some_and(|n| n != "wasm_output") {
                collect(&path, root, files);
            }
        } else if path.extension().is_some_and(|e| e == "dn") {
            let relative = path
                .strip_prefix(root)
                .expect("under dana/")
                .to_string_lossy()
                .replace('\\', "/");
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            files.insert(relative, text);
        }
    }
}

/// Every `.dn` file under `dana/`, by path relative to it.
fn dana_files() -> BTreeMap<String, String> {
    let root = dana_root();
    let mut files = BTreeMap::new();
    collect(&root, &root, &mut files);
    files
}

/// The fixture's facts and the interfaces of `resources/` among `files`.
fn catalog(files: &BTreeMap<String, String>) -> Result<Catalog, Vec<String>> {
    let mut catalog = Catalog::default();
    catalog.add_fixture(FIXTURE).map_err(|e| vec![e])?;
    for (path, text) in files {
        if let Some(inside) = path.strip_prefix("resources/") {
            catalog
                .add_interface_file(inside, text)
                .map_err(|e| vec![e])?;
        }
    }
    catalog.check_extends()?;
    Ok(catalog)
}

/// Every file checked, by path.
fn check(files: &BTreeMap<String, String>) -> BTreeMap<String, FileReport> {
    let catalog = catalog(files).unwrap_or_else(|e| panic!("catalog: {e:?}"));
    check_with(&catalog, files)
}

fn check_with(catalog: &Catalog, files: &BTreeMap<String, String>) -> BTreeMap<String, FileReport> {
    files
        .iter()
        .map(|(path, text)| (path.clone(), dana_source::check_file(catalog, path, text)))
        .collect()
}

fn all_errors(reports: &BTreeMap<String, FileReport>) -> Vec<String> {
    reports.values().flat_map(|r| r.errors.clone()).collect()
}

/// The errors of every file when `path` reads `replace(from, to)` instead (the replacement must
/// change it).
fn errors_with(path: &str, from: &str, to: &str) -> Vec<String> {
    let mut files = dana_files();
    let text = files.get_mut(path).unwrap_or_else(|| panic!("no {path}"));
    let broken = text.replacen(from, to, 1);
    assert_ne!(*text, broken, "{path} has no {from:?} to break");
    *text = broken;
    match catalog(&files) {
        Ok(catalog) => all_errors(&check_with(&catalog, &files)),
        Err(errors) => errors,
    }
}

fn assert_reported(errors: &[String], expected: &str) {
    assert!(
        errors.iter().any(|e| e.contains(expected)),
        "expected an error containing {expected:?}, got {errors:#?}"
    );
}

/// Calls to the coordinator's requesting functions made where a call would wait on the network
/// in the browser's loop: directly in a function that is not run through `asynch::`.
fn blocking_calls(report: &FileReport) -> Vec<String> {
    let mut problems = Vec::new();
    for call in &report.calls {
        let Target::Interface {
            interface,
            function,
        } = &call.target
        else {
            continue;
        };
        if interface != "coordinator.Coordinator" || !REQUESTING.contains(&function.as_str()) {
            continue;
        }
        if function == "waitForResult" {
            problems.push(format!("line {}: waitForResult blocks", call.line));
        }
        let Some(within) = &call.within else {
            problems.push(format!(
                "line {}: {function} outside any function",
                call.line
            ));
            continue;
        };
        let callers: Vec<bool> = report
            .calls
            .iter()
            .filter_map(|c| match &c.target {
                Target::Local {
                    function: f,
                    asynch,
                } if f == within => Some(*asynch),
                _ => None,
            })
            .collect();
        if within.contains(':') || callers.is_empty() || callers.contains(&false) {
            problems.push(format!(
                "line {}: {function} is called in {within}, which does not run only through asynch::",
                call.line
            ));
        }
    }
    problems
}

#[test]
fn every_dana_source_uses_only_known_interfaces_functions_and_fields() {
    let files = dana_files();
    for expected in [
        COMPONENT_PATH,
        LOOP_PATH,
        MAIN_LOOP_PATH,
        MAIN_WASM_PATH,
        INTERFACE_PATH,
        "resources/app/MainAppLoop.dn",
    ] {
        assert!(files.contains_key(expected), "{expected} is checked");
    }
    let reports = check(&files);
    assert_eq!(all_errors(&reports), Vec::<String>::new());

    // The check saw the calls and fields the stubs rely on, so it did check them.
    let calls: Vec<(String, String)> = reports
        .values()
        .flat_map(|r| r.calls.iter())
        .filter_map(|c| match &c.target {
            Target::Interface {
                interface,
                function,
            } => Some((interface.clone(), function.clone())),
            Target::Local { .. } => None,
        })
        .collect();
    for (interface, function) in [
        ("net.http.HTTPRequest", "get"),
        ("net.http.HTTPRequest", "post"),
        ("data.json.JSONEncoder", "jsonFromData"),
        ("data.json.JSONParser", "parseDocument"),
        ("data.json.JSONParser", "getValue"),
        ("data.StringUtil", "trim"),
        ("data.StringUtil", "subString"),
        ("data.StringUtil", "isNumeric"),
        ("data.IntUtil", "intFromString"),
        ("time.Timer", "sleep"),
        ("io.Output", "println"),
        ("System", "setProcessLoop"),
        ("coordinator.Coordinator", "setCoordinatorUrl"),
        ("coordinator.Coordinator", "getCoordinatorUrl"),
        ("coordinator.Coordinator", "lastError"),
        ("coordinator.Coordinator", "submitTask"),
        ("coordinator.Coordinator", "waitForResult"),
        ("coordinator.Coordinator", "status"),
        ("coordinator.Coordinator", "tryResult"),
    ] {
        assert!(
            calls.contains(&(interface.to_owned(), function.to_owned())),
            "no checked call of {interface}.{function}"
        );
    }
    let fields: Vec<&(String, String)> = reports.values().flat_map(|r| &r.fields).collect();
    for (data, field) in [
        ("HTTPResponse", "responseCode"),
        ("HTTPResponse", "content"),
        ("JSONElement", "type"),
        ("JSONElement", "value"),
        ("AppParam", "string"),
        ("ResultState", "status"),
    ] {
        assert!(
            fields.contains(&&(data.to_owned(), field.to_owned())),
            "no checked read of {data}.{field}"
        );
    }
    let consts: Vec<&(String, String)> = reports.values().flat_map(|r| &r.consts).collect();
    assert!(consts.contains(&&("JSONElement".to_owned(), "TYPE_STRING".to_owned())));
    assert!(consts.contains(&&("Coordinator".to_owned(), "STATUS_UNREACHABLE".to_owned())));
}

#[test]
fn the_fixture_names_where_each_signature_was_read() {
    let mut catalog = Catalog::default();
    catalog.add_fixture(FIXTURE).expect("fixture");
    let from_commit = |origin: &str| {
        let mut words = origin.split_whitespace();
        let repository = words.next().unwrap_or_default();
        let commit = words.next().unwrap_or_default();
        repository.contains('/')
            && commit.len() == 40
            && commit.chars().all(|c| c.is_ascii_hexdigit())
    };
    assert!(
        catalog.interfaces.len() >= 9,
        "{:?}",
        catalog.interfaces.keys()
    );
    for iface in catalog.interfaces.values() {
        assert!(
            !iface.origins.is_empty() && iface.origins.iter().all(|o| from_commit(o)),
            "{} does not say where it was read: {:?}",
            iface.name,
            iface.origins
        );
    }
    for data in catalog.data.values() {
        let (file, origin) = data.origin.split_once(", ").expect("FILE, source");
        assert!(file.ends_with(".dn"), "{}: {file}", data.name);
        assert!(from_commit(origin), "{}: {origin}", data.name);
    }

    // The facts the stubs' calls depend on most.
    let get = catalog
        .function("net.http.HTTPRequest", "get")
        .expect("HTTPRequest.get");
    assert_eq!(get.ret, "HTTPResponse");
    assert_eq!(
        dana_source::arity(&get.params),
        (1, 3),
        "get(url, opt headers, secure)"
    );
    let post = catalog
        .function("net.http.HTTPRequest", "post")
        .expect("HTTPRequest.post");
    assert_eq!(
        dana_source::arity(&post.params),
        (3, 4),
        "post(url, headers, data, opt secure)"
    );
    let response = &catalog.data["HTTPResponse"];
    let fields: Vec<&str> = response.fields.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "url",
            "responseCode",
            "responseMessage",
            "content",
            "contentType",
            "headers"
        ]
    );
    // setProcessLoop comes from a second source, added to System's block.
    assert!(catalog.function("System", "setProcessLoop").is_some());
    assert!(catalog.function("System", "getVersion").is_some());
    assert_eq!(catalog.interfaces["System"].origins.len(), 2);
}

#[test]
fn the_project_interfaces_are_read_from_dana_resources() {
    let files = dana_files();
    let catalog = catalog(&files).expect("catalog");
    let coordinator = &catalog.interfaces["coordinator.Coordinator"];
    let names: Vec<&str> = coordinator
        .functions
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "setCoordinatorUrl",
            "getCoordinatorUrl",
            "lastError",
            "submitTask",
            "waitForResult",
            "status",
            "tryResult",
            "cancel"
        ]
    );
    for status in ["STATUS_UNREACHABLE", "STATUS_UNKNOWN", "STATUS_ERROR"] {
        assert!(coordinator.consts.iter().any(|c| c == status), "{status}");
    }
    let main_loop = &catalog.interfaces["app.MainAppLoop"];
    assert_eq!(main_loop.extends.as_deref(), Some("lang.ProcessLoop"));
    assert_eq!(main_loop.constructors.len(), 1);
    assert!(
        catalog.function("app.MainAppLoop", "loop").is_some(),
        "loop() through extends"
    );
}

#[test]
fn the_browser_main_app_registers_one_loop_object_that_never_waits_on_the_network() {
    let reports = check(&dana_files());
    let main = &reports[MAIN_LOOP_PATH];
    assert_eq!(main.provides, ["App"], "main provides App only");
    let required: Vec<&str> = main.requires.iter().map(|(r, _)| r.as_str()).collect();
    assert!(required.contains(&"System") && required.contains(&"app.MainAppLoop"));
    assert!(main.calls.iter().any(|c| {
        c.target
            == Target::Interface {
                interface: "System".to_owned(),
                function: "setProcessLoop".to_owned(),
            }
            && c.within.as_deref() == Some("App:main")
    }));

    let main_loop = &reports[LOOP_PATH];
    assert_eq!(
        main_loop.provides,
        ["app.MainAppLoop"],
        "one interface, one object"
    );
    let requests = main_loop
        .calls
        .iter()
        .filter(|c| matches!(&c.target, Target::Interface { function, .. } if REQUESTING.contains(&function.as_str())))
        .count();
    assert_eq!(requests, 3, "submitTask, status and tryResult");
    assert_eq!(blocking_calls(main_loop), Vec::<String>::new());

    // The rule catches a request made in loop() itself.
    let mut files = dana_files();
    let text = files.get_mut(LOOP_PATH).expect("loop");
    let broken = text.replacen(
        "\t\tif (stopped) return false\n",
        "\t\tif (stopped) return false\n\t\tchar seen[] = coordinator.status(taskId)\n",
        1,
    );
    assert_ne!(*text, broken);
    *text = broken;
    let reports = check(&files);
    assert_eq!(
        all_errors(&reports),
        Vec::<String>::new(),
        "still valid Dana"
    );
    let problems = blocking_calls(&reports[LOOP_PATH]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("status is called in MainAppLoop:loop"),
        "{problems:?}"
    );
}

#[test]
fn a_stub_calling_a_function_its_interface_lacks_fails_the_check() {
    let errors = errors_with(COMPONENT_PATH, "request.post(", "request.put(");
    assert_reported(&errors, "net.http.HTTPRequest has no function put");
}

#[test]
fn a_stub_reading_a_field_its_data_type_lacks_fails_the_check() {
    let errors = errors_with(
        COMPONENT_PATH,
        "r.responseCode != \"200\"",
        "r.status != \"200\"",
    );
    assert_reported(&errors, "HTTPResponse has no field status");
    let errors = errors_with(COMPONENT_PATH, "e.type != type", "e.kind != type");
    assert_reported(&errors, "JSONElement has no field kind");
    let errors = errors_with(
        COMPONENT_PATH,
        "JSONElement.TYPE_NUMBER",
        "JSONElement.TYPE_INTEGER",
    );
    assert_reported(&errors, "JSONElement has no constant TYPE_INTEGER");
}

#[test]
fn a_stub_with_a_throw_fails_the_check() {
    let errors = errors_with(
        COMPONENT_PATH,
        "\t\tif (!matrixTextOk(\"A\", A)) return 0\n",
        "\t\tif (!matrixTextOk(\"A\", A)) throw new Exception(\"bad matrix\")\n",
    );
    assert_reported(&errors, "coordinator/Coordinator.dn:");
    assert_reported(&errors, "throw: a Dana exception cannot be caught");
}

#[test]
fn a_call_with_a_wrong_number_of_arguments_fails_the_check() {
    let errors = errors_with(
        COMPONENT_PATH,
        "request.post(\"$baseUrl/task\", headers, body)",
        "request.post(\"$baseUrl/task\", body)",
    );
    assert_reported(
        &errors,
        "net.http.HTTPRequest.post takes 3 to 4 arguments, called with 2",
    );
    let errors = errors_with(
        COMPONENT_PATH,
        "parser.parseDocument(content)",
        "parser.parseDocument(content, true)",
    );
    assert_reported(
        &errors,
        "data.json.JSONParser.parseDocument takes 1 arguments, called with 2",
    );
    let errors = errors_with(
        MAIN_LOOP_PATH,
        "new MainAppLoop(url, \"[[1,2],[3,4]]\", \"[[5,6],[7,8]]\")",
        "new MainAppLoop(url)",
    );
    assert_reported(&errors, "no constructor of MainAppLoop takes them");
    let errors = errors_with(LOOP_PATH, "asynch::pollNow()", "asynch::pollNow(taskId)");
    assert_reported(&errors, "pollNow takes 0 arguments, called with 1");
}

#[test]
fn an_unknown_interface_name_fails_the_check() {
    let errors = errors_with(
        COMPONENT_PATH,
        "requires net.http.HTTPRequest request",
        "requires net.http.HttpRequest request",
    );
    assert_reported(&errors, "requires net.http.HttpRequest: no such interface");
    let errors = errors_with(
        COMPONENT_PATH,
        "provides coordinator.Coordinator",
        "provides coordinator.Coordinators",
    );
    assert_reported(
        &errors,
        "provides coordinator.Coordinators: no such interface",
    );
    let errors = errors_with(
        "resources/app/MainAppLoop.dn",
        "extends lang.ProcessLoop",
        "extends lang.Loop",
    );
    assert_reported(
        &errors,
        "app.MainAppLoop extends unknown interface lang.Loop",
    );
}

#[test]
fn an_implementation_that_differs_from_its_interface_fails_the_check() {
    let errors = errors_with(
        COMPONENT_PATH,
        "char[] Coordinator:status(int taskId)",
        "int Coordinator:status(int taskId)",
    );
    assert_reported(
        &errors,
        "Coordinator:status does not match coordinator.Coordinator",
    );
    let errors = errors_with(
        COMPONENT_PATH,
        "char[] Coordinator:waitForResult(int taskId, opt int timeoutMs)",
        "char[] Coordinator:waitForResult(int taskId, int timeoutMs)",
    );
    assert_reported(&errors, "Coordinator:waitForResult does not match");
    // An interface function the component does not implement, and calls to one that is gone.
    let errors = errors_with(
        INTERFACE_PATH,
        "\tchar[] lastError()\n",
        "\tchar[] lastFailure()\n",
    );
    assert_reported(
        &errors,
        "coordinator.Coordinator: Coordinator:lastFailure is not implemented",
    );
    assert_reported(
        &errors,
        "Coordinator:lastError: coordinator.Coordinator has no function lastError",
    );
    assert_reported(&errors, "coordinator.Coordinator has no function lastError");
}

#[test]
fn an_undeclared_name_fails_the_check() {
    let errors = errors_with(COMPONENT_PATH, "$baseUrl/task\"", "$baseURL/task\"");
    assert_reported(&errors, "$baseURL interpolates an undeclared name");
    let errors = errors_with(
        COMPONENT_PATH,
        "return fail(Coordinator.STATUS_UNREACHABLE",
        "return failed(Coordinator.STATUS_UNREACHABLE",
    );
    assert_reported(&errors, "failed(...) calls no function of this component");
    let errors = errors_with(
        MAIN_WASM_PATH,
        "out.println(\"A = $A\")",
        "output.println(\"A = $A\")",
    );
    assert_reported(&errors, "output is not declared");
}
