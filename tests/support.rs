//! Helpers shared by the test modules.

use std::path::{Path, PathBuf};

use cellflow::check::Checked;
use cellflow::project::Project;

/// The repository root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Loads files (or every flow file of directories) under names relative to
/// `base`, so rendered paths are the same on every machine.
pub(crate) fn load(base: &Path, paths: &[PathBuf]) -> Project {
    let mut project = Project::new();
    let files = cellflow::project::discover(paths).expect("test inputs exist");
    for file in files {
        let bytes = std::fs::read(&file).expect("readable");
        let name = file
            .strip_prefix(base)
            .unwrap_or(&file)
            .to_string_lossy()
            .replace('\\', "/");
        project.add_bytes(&name, &file, &bytes);
    }
    project
}

pub(crate) fn check(project: Project) -> Checked {
    cellflow::check::check(project)
}

/// Renders every diagnostic without colour at a fixed width.
pub(crate) fn render_all(checked: &Checked) -> String {
    checked
        .diagnostics
        .iter()
        .map(|d| cellflow::diagnostic::render(d, &checked.sources, false, 100))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A small builder for running the `cellflow` binary, after just's `Test`.
pub(crate) struct Cmd {
    command: std::process::Command,
    input: String,
}

pub(crate) struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Cmd {
    pub(crate) fn new() -> Cmd {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cellflow"));
        command.current_dir(root()).env("NO_COLOR", "1");
        Cmd {
            command,
            input: String::new(),
        }
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(
        mut self,
        args: I,
    ) -> Cmd {
        self.command.args(args);
        self
    }

    /// Sets an environment variable for the run.
    pub(crate) fn env(mut self, name: &str, value: &str) -> Cmd {
        self.command.env(name, value);
        self
    }

    /// Feeds `input` on standard input (otherwise it is empty).
    pub(crate) fn stdin(mut self, input: &str) -> Cmd {
        input.clone_into(&mut self.input);
        self
    }

    pub(crate) fn run(mut self) -> Output {
        use std::io::Write as _;
        use std::process::Stdio;
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let mut stdin = child.stdin.take().expect("stdin is piped");
        stdin
            .write_all(self.input.as_bytes())
            .expect("stdin is writable");
        drop(stdin);
        let output = child.wait_with_output().expect("the binary finishes");
        Output {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Snapshots `value` as `snapshots/<group>/<name>.snap`.
pub(crate) fn snapshot(group: &str, name: &str, value: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(format!("../snapshots/{group}"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, value));
}

/// A bot from one in-memory flow file (`*.flow.yaml` when the text starts
/// with `flows:` or `bot:`, else the DSL); panics with the rendered
/// diagnostics if it has errors.
pub(crate) fn bot(text: &str) -> cellflow::Bot {
    let name = if text.starts_with("flows:") || text.starts_with("bot:") {
        "bot.flow.yaml"
    } else {
        "bot.flow"
    };
    let mut project = Project::new();
    project.add_bytes(name, Path::new(name), text.as_bytes());
    match cellflow::compile::load_project(project) {
        Ok(program) => cellflow::Bot::new(program),
        Err(cellflow::runtime::LoadError::Invalid {
            diagnostics,
            sources,
        }) => {
            let rendered: Vec<String> = diagnostics
                .iter()
                .map(|d| cellflow::diagnostic::render(d, &sources, false, 100))
                .collect();
            panic!("the bot has errors:\n{}", rendered.join("\n"))
        }
        Err(e) => panic!("{e}"),
    }
}
