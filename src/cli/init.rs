//! `cellflow init [DIR] [--dsl] [--lang en|es|pt]`: writes a starter bot
//! that passes `check --deny-warnings` and `test` as written: a welcome, a
//! menu, one intent, a handoff, a fallback with out-of-scope examples, its
//! conversation tests, a README and a CI workflow.
//!
//! The bot is kept as YAML, one file per language (`templates/init/`),
//! and written as `fmt` lays it out in either syntax, comments and all, so
//! the two syntaxes can never drift apart and `fmt --check` passes. Nothing already there is
//! overwritten: a directory that holds a bot, or any of the files, is
//! refused before anything is written.

use std::path::{Path, PathBuf};

use cellflow::project::Project;
use cellflow::syntax::Syntax;

use super::{CliError, EXIT_OK};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum Lang {
    /// English
    En,
    /// Spanish
    Es,
    /// Portuguese
    Pt,
}

#[derive(clap::Args, Debug)]
pub(crate) struct Init {
    /// Where to write the bot (made when missing); the current directory by default
    dir: Option<PathBuf>,
    /// Write the flows in the DSL (`bot.flow`) instead of YAML (`bot.flow.yaml`)
    #[arg(long)]
    dsl: bool,
    /// The language the bot speaks
    #[arg(long, value_enum, default_value = "en")]
    lang: Lang,
    /// The bot's name (the directory's name by default)
    #[arg(long)]
    name: Option<String>,
}

/// One language's bot and tests.
struct Starter {
    flows: &'static str,
    tests: &'static str,
    /// The handoff's queue, named in the README.
    queue: &'static str,
}

fn starter(lang: Lang) -> Starter {
    match lang {
        Lang::En => Starter {
            flows: include_str!("../../templates/init/en/bot.flow.yaml"),
            tests: include_str!("../../templates/init/en/bot.test.yaml"),
            queue: "support",
        },
        Lang::Es => Starter {
            flows: include_str!("../../templates/init/es/bot.flow.yaml"),
            tests: include_str!("../../templates/init/es/bot.test.yaml"),
            queue: "soporte",
        },
        Lang::Pt => Starter {
            flows: include_str!("../../templates/init/pt/bot.flow.yaml"),
            tests: include_str!("../../templates/init/pt/bot.test.yaml"),
            queue: "suporte",
        },
    }
}

const README: &str = include_str!("../../templates/init/README.md");
const WORKFLOW: &str = include_str!("../../templates/init/workflow.yml");
const WORKFLOW_PATH: &str = ".github/workflows/cellflow.yml";

/// The longest bot name taken (a name is shown in every greeting).
const MAX_NAME_CHARS: usize = 80;

impl Init {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        let dir = self.dir.clone().unwrap_or_else(|| PathBuf::from("."));
        let name = match &self.name {
            Some(name) => name.trim().to_owned(),
            None => default_name(&dir)?,
        };
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.contains(char::is_control)
        {
            return Err(CliError::Usage(format!(
                "the bot's name must be 1 to {MAX_NAME_CHARS} characters on one line; \
                 give one with --name"
            )));
        }
        let files = self.files(&name)?;
        refuse_clashes(&dir, &files)?;
        let mut written = Vec::new();
        for (relative, text) in &files {
            let path = dir.join(relative);
            // Only the bot's own files must be new; a README or a workflow
            // already there is the author's and stays.
            if path.exists() {
                println!("{relative} is already there: left as it is");
                continue;
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| CliError::Write {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            std::fs::write(&path, text).map_err(|source| CliError::Write { path, source })?;
            written.push(*relative);
        }
        let shown = cellflow::project::display_name(&dir);
        println!("wrote the bot {name:?} in {shown}:");
        for relative in &written {
            println!("  {relative}");
        }
        if let Some(root) = repository_root(&dir)
            && written.contains(&WORKFLOW_PATH)
        {
            println!(
                "note: GitHub reads workflows only at the repository's root ({}): move \
                 {WORKFLOW_PATH} there and give its commands the bot's directory instead of `.`",
                cellflow::project::display_name(&root)
            );
        }
        let at = if self.dir.is_some() {
            shell_word(&shown)
        } else {
            ".".to_owned()
        };
        println!(
            "next: `cellflow run {at}` to chat with it, `cellflow test {at}` to run its tests"
        );
        Ok(EXIT_OK)
    }

    /// The files to write, by path relative to the bot's directory.
    fn files(&self, name: &str) -> Result<Vec<(&'static str, String)>, CliError> {
        let starter = starter(self.lang);
        // A JSON string is a YAML double-quoted scalar: any name fits.
        let quoted = serde_json::to_string(name).map_err(|e| CliError::Usage(e.to_string()))?;
        let title = name.replace('\n', " ");
        let yaml = starter
            .flows
            .replacen("__TITLE__", &title, 1)
            .replacen("__NAME__", &quoted, 1);
        // Written as `fmt` lays them out, so `fmt --check` in CI passes.
        let (flow_file, flows) = if self.dsl {
            ("bot.flow", formatted(&yaml, Syntax::Dsl)?)
        } else {
            ("bot.flow.yaml", formatted(&yaml, Syntax::Yaml)?)
        };
        let readme = README
            .replace("__TITLE__", &title)
            .replace("__FLOW_FILE__", flow_file)
            .replace("__QUEUE__", starter.queue);
        Ok(vec![
            (flow_file, flows),
            ("bot.test.yaml", starter.tests.to_owned()),
            ("README.md", readme),
            (WORKFLOW_PATH, WORKFLOW.to_owned()),
        ])
    }
}

/// The directory's own name, for a bot made in it.
fn default_name(dir: &Path) -> Result<String, CliError> {
    let absolute = std::path::absolute(dir).map_err(|e| {
        CliError::Usage(format!(
            "cannot tell where {} is: {e}",
            cellflow::project::display_name(dir)
        ))
    })?;
    Ok(absolute
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .next_back()
        .unwrap_or("bot")
        .to_owned())
}

/// Refuses to write into a directory that already holds a bot, or over
/// the bot's flows or tests.
fn refuse_clashes(dir: &Path, files: &[(&'static str, String)]) -> Result<(), CliError> {
    let clashes: Vec<&str> = files
        .iter()
        .map(|(relative, _)| *relative)
        .filter(|relative| relative.starts_with("bot."))
        .filter(|relative| dir.join(relative).exists())
        .collect();
    if !clashes.is_empty() {
        return Err(CliError::Usage(format!(
            "{} already has {}: nothing was written (init never overwrites a file; \
             give it a new directory)",
            cellflow::project::display_name(dir),
            clashes.join(", ")
        )));
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        // Missing: it is made. Unreadable: writing will say why.
        return Ok(());
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.ends_with(".flow")
            || file.ends_with(".flow.yaml")
            || file.ends_with(".flow.yml")
            || file == cellflow::project::SETTINGS_FILE
        {
            return Err(CliError::Usage(format!(
                "{} already holds a bot ({file}): nothing was written; \
                 give init a new directory",
                cellflow::project::display_name(dir)
            )));
        }
    }
    Ok(())
}

/// The git repository `dir` is in, when `dir` is not its root.
fn repository_root(dir: &Path) -> Option<PathBuf> {
    let dir = std::path::absolute(dir).ok()?;
    if dir.join(".git").exists() {
        return None;
    }
    dir.ancestors()
        .skip(1)
        .find(|a| a.join(".git").exists())
        .map(Path::to_path_buf)
}

/// A path as a shell takes it: quoted when it holds anything but plain
/// characters.
fn shell_word(path: &str) -> String {
    if path
        .chars()
        .all(|c| c.is_alphanumeric() || "/._-+:@".contains(c))
    {
        path.to_owned()
    } else {
        format!("'{}'", path.replace('\'', "'\\''"))
    }
}

/// The YAML starter in `fmt`'s layout of `syntax`, comments kept.
fn formatted(yaml: &str, syntax: Syntax) -> Result<String, CliError> {
    let mut project = Project::new();
    project.add_bytes("bot.flow.yaml", Path::new("bot.flow.yaml"), yaml.as_bytes());
    let broken = || CliError::Usage("the starter bot did not parse; please report this".into());
    if !project.diagnostics.is_empty() {
        return Err(broken());
    }
    let (_, _, module) = project.modules.pop().ok_or_else(broken)?;
    cellflow::fmt::convert(&module, syntax).map_err(|e| CliError::Usage(e.to_string()))
}
