//! `floe sql`: run statements embedded on a data directory or against a
//! server's HTTP API, and print results as a table, CSV or JSON.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use floe_query::{Engine, Output};
use futures::StreamExt;

use crate::{OutputFormat, SqlArgs};

/// A statement's result, ready to print.
pub(crate) enum Printed {
    Rows(SchemaRef, Vec<RecordBatch>),
    Command(String),
}

/// Where statements run.
enum Target {
    Embedded(Arc<Engine>),
    Remote {
        client: reqwest::Client,
        url: String,
    },
}

/// An error from one statement: shown, and the shell goes on (interactive)
/// or stops (scripts).
pub(crate) struct StatementError {
    pub(crate) code: String,
    pub(crate) message: String,
}

/// The shell's transaction block, shared by every statement it runs
/// (a server sees each statement as its own request).
static BLOCK: std::sync::Mutex<floe_query::transaction::TransactionBlock> =
    std::sync::Mutex::new(floe_query::transaction::TransactionBlock::new());

impl Target {
    async fn run(&self, sql: &str) -> Result<Printed, StatementError> {
        use floe_common::HasStatus;
        for stmt in Engine::parse(sql).unwrap_or_default() {
            let mut block = BLOCK.lock().unwrap_or_else(|e| e.into_inner());
            block.check(&stmt).map_err(|e| StatementError {
                code: e.status().sqlstate().to_string(),
                message: e.message(),
            })?;
        }
        match self {
            Target::Embedded(engine) => run_embedded(engine, sql).await,
            Target::Remote { client, url } => run_remote(client, url, sql).await,
        }
    }
}

async fn run_embedded(engine: &Engine, sql: &str) -> Result<Printed, StatementError> {
    use floe_common::HasStatus;
    let fail = |e: floe_query::QueryError| StatementError {
        code: e.status().sqlstate().to_string(),
        message: e.message(),
    };
    let stmt = Engine::parse(sql).map_err(fail)?.into_iter().next();
    let Some(stmt) = stmt else {
        return Ok(Printed::Command(String::new()));
    };
    match engine.execute(stmt).await.map_err(fail)? {
        Output::Command { tag, rows } => Ok(Printed::Command(tag_text(tag, rows))),
        Output::Rows(df) => {
            let df = *df;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let mut stream = df.execute_stream().await.map_err(|e| fail(e.into()))?;
            let mut batches = Vec::new();
            while let Some(b) = stream.next().await {
                batches.push(b.map_err(|e| fail(e.into()))?);
            }
            Ok(Printed::Rows(schema, batches))
        }
    }
}

pub(crate) async fn run_remote(
    client: &reqwest::Client,
    url: &str,
    sql: &str,
) -> Result<Printed, StatementError> {
    let transport = |e: reqwest::Error| StatementError {
        code: "08006".into(),
        message: format!("cannot reach {url}: {e}"),
    };
    let resp = client
        .post(format!("{}/v1/sql", url.trim_end_matches('/')))
        .header("accept", "application/vnd.apache.arrow.stream")
        .body(sql.to_string())
        .send()
        .await
        .map_err(transport)?;
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp.bytes().await.map_err(transport)?;
    let json = || serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default();
    if !status.is_success() {
        let v = json();
        return Err(StatementError {
            code: v["error"]["code"].as_str().unwrap_or("XX000").to_string(),
            message: v["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}: {}", String::from_utf8_lossy(&body))),
        });
    }
    if content_type.starts_with("application/vnd.apache.arrow.stream") {
        let bad = |e: arrow::error::ArrowError| StatementError {
            code: "08P01".into(),
            message: format!("malformed Arrow response: {e}"),
        };
        let reader =
            arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(body.to_vec()), None)
                .map_err(bad)?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>().map_err(bad)?;
        return Ok(Printed::Rows(schema, batches));
    }
    let v = json();
    let tag = v["command"].as_str().unwrap_or("OK");
    let rows = v["rows"][0][0].as_u64();
    Ok(Printed::Command(tag_text(tag, rows)))
}

fn tag_text(tag: &str, rows: Option<u64>) -> String {
    match (tag, rows) {
        ("INSERT", Some(n)) => format!("INSERT 0 {n}"),
        (t, Some(n)) => format!("{t} {n}"),
        (t, None) => t.to_string(),
    }
}

fn print(format: OutputFormat, printed: Printed) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match printed {
        Printed::Command(tag) => {
            if format == OutputFormat::Table && !tag.is_empty() {
                writeln!(out, "{tag}")?;
            }
        }
        Printed::Rows(schema, batches) => match format {
            OutputFormat::Table => {
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                if batches.is_empty() {
                    let empty = RecordBatch::new_empty(schema);
                    writeln!(
                        out,
                        "{}",
                        arrow::util::pretty::pretty_format_batches(&[empty])?
                    )?;
                } else {
                    writeln!(
                        out,
                        "{}",
                        arrow::util::pretty::pretty_format_batches(&batches)?
                    )?;
                }
                writeln!(out, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
            }
            OutputFormat::Csv => {
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut out);
                if batches.is_empty() {
                    w.write(&RecordBatch::new_empty(schema))?;
                }
                for b in &batches {
                    w.write(b)?;
                }
            }
            OutputFormat::Json => {
                let mut w = arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow::json::writer::LineDelimited>(&mut out);
                for b in &batches {
                    w.write(b)?;
                }
                w.finish()?;
            }
        },
    }
    Ok(())
}

/// Splits SQL text into statements, keeping each statement's own text.
fn statements(sql: &str) -> Result<Vec<String>, StatementError> {
    use floe_common::HasStatus;
    Engine::parse_with_text(sql)
        .map(|stmts| stmts.into_iter().map(|(_, text)| text).collect())
        .map_err(|e| StatementError {
            code: e.status().sqlstate().to_string(),
            message: e.message(),
        })
}

fn report(e: &StatementError) {
    eprintln!("ERROR:  {} (SQLSTATE {})", e.message, e.code);
}

pub async fn run(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let target = match &args.url {
        Some(url) => Target::Remote {
            client: crate::http_client(args.token.as_deref())?,
            url: url.clone(),
        },
        None => Target::Embedded(
            Engine::open(&args.data_dir)
                .await
                .map_err(|e| anyhow::anyhow!(e.message()))?,
        ),
    };
    let code = run_on(&target, &args).await;
    if let Target::Embedded(engine) = &target
        && let Err(e) = engine.store().flush_all().await
    {
        eprintln!(
            "warning: flushing buffered rows failed (they stay in the write-ahead log): {}",
            e
        );
    }
    code
}

async fn run_on(target: &Target, args: &SqlArgs) -> anyhow::Result<ExitCode> {
    let mut scripts: Vec<String> = args.commands.clone();
    for file in &args.files {
        scripts.push(
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?,
        );
    }
    if !scripts.is_empty() {
        for script in scripts {
            let stmts = match statements(&script) {
                Ok(s) => s,
                Err(e) => {
                    report(&e);
                    return Ok(ExitCode::FAILURE);
                }
            };
            for stmt in stmts {
                match target.run(&stmt).await {
                    Ok(p) => print(args.format, p)?,
                    Err(e) => {
                        report(&e);
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    interactive(target, args.format).await
}

async fn interactive(target: &Target, format: OutputFormat) -> anyhow::Result<ExitCode> {
    use rustyline::error::ReadlineError;
    let mut editor = rustyline::DefaultEditor::new()?;
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".floe_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!(
        "Floe {} SQL shell. End statements with ';'. \\q quits.",
        env!("CARGO_PKG_VERSION")
    );
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "floe> "
        } else {
            "   -> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                let trimmed = line.trim();
                if buffer.is_empty() && (trimmed == "\\q" || trimmed == "quit" || trimmed == "exit")
                {
                    break;
                }
                if trimmed.is_empty() {
                    continue;
                }
                buffer.push_str(&line);
                buffer.push('\n');
                if !trimmed.ends_with(';') {
                    continue;
                }
                let text = std::mem::take(&mut buffer);
                let _ = editor.add_history_entry(text.trim());
                match statements(&text) {
                    Ok(stmts) => {
                        for stmt in stmts {
                            match target.run(&stmt).await {
                                Ok(p) => print(format, p)?,
                                Err(e) => {
                                    report(&e);
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => report(&e),
                }
            }
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(ExitCode::SUCCESS)
}
