//! `floe replicate`: declares a PostgreSQL source on a running server and
//! follows its initial snapshot with a progress bar until it streams.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use arrow::array::{Array, Int64Array, StringArray};
use indicatif::{ProgressBar, ProgressStyle};

use crate::ReplicateArgs;
use crate::shell::{Printed, run_remote};

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The CREATE SOURCE statement the arguments describe.
fn create_statement(args: &ReplicateArgs) -> String {
    let mut sql = format!(
        "CREATE SOURCE {} FROM POSTGRES CONNECTION {}",
        args.name,
        quote(&args.connection)
    );
    if let Some(p) = &args.publication {
        sql.push_str(&format!(" PUBLICATION \"{p}\""));
    }
    if !args.tables.is_empty() {
        sql.push_str(&format!(" TABLES ({})", args.tables.join(", ")));
    }
    if let Some(s) = &args.into_schema {
        sql.push_str(&format!(" INTO SCHEMA \"{s}\""));
    }
    sql
}

/// The source's own row of `system.sources`: state, rows copied, rows
/// estimated, last error.
async fn source_row(
    client: &reqwest::Client,
    url: &str,
    name: &str,
) -> anyhow::Result<(String, i64, i64, Option<String>)> {
    let sql = format!(
        "SELECT state, rows_snapshotted, rows_estimated, last_error FROM system.sources \
         WHERE source = {} AND table_name IS NULL",
        quote(name)
    );
    let printed = run_remote(client, url, &sql)
        .await
        .map_err(|e| anyhow::anyhow!("{} (SQLSTATE {})", e.message, e.code))?;
    let Printed::Rows(_, batches) = printed else {
        anyhow::bail!("system.sources returned no rows");
    };
    let batch = batches
        .into_iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| anyhow::anyhow!("source \"{name}\" is not in system.sources"))?;
    let text = |i: usize| {
        batch
            .column(i)
            .as_any()
            .downcast_ref::<StringArray>()
            .filter(|a| a.is_valid(0))
            .map(|a| a.value(0).to_string())
    };
    let int = |i: usize| {
        batch
            .column(i)
            .as_any()
            .downcast_ref::<Int64Array>()
            .map_or(0, |a| a.value(0))
    };
    Ok((text(0).unwrap_or_default(), int(1), int(2), text(3)))
}

pub async fn run(args: ReplicateArgs) -> anyhow::Result<ExitCode> {
    let client = crate::http_client(args.token.as_deref())?;
    let url = args.url.clone();
    match run_remote(&client, &url, &create_statement(&args)).await {
        Ok(_) => println!("CREATE SOURCE {}", args.name),
        Err(e) => {
            eprintln!("ERROR:  {} (SQLSTATE {})", e.message, e.code);
            return Ok(ExitCode::FAILURE);
        }
    }
    if args.no_wait {
        return Ok(ExitCode::SUCCESS);
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} snapshot {msg} [{bar:30}] {human_pos}/{human_len} rows ({per_sec}, {elapsed})",
        )
        .expect("a valid progress template")
        .progress_chars("=> "),
    );
    bar.set_message(args.name.clone());
    let started = Instant::now();
    let mut failing_since: Option<Instant> = None;
    loop {
        let (state, copied, estimated, error) = source_row(&client, &url, &args.name).await?;
        bar.set_length(estimated.max(copied).max(0) as u64);
        bar.set_position(copied.max(0) as u64);
        if state == "streaming" {
            bar.finish_and_clear();
            println!(
                "source {} is streaming: {copied} rows copied in {:.1} s; changes now apply continuously",
                args.name,
                started.elapsed().as_secs_f64()
            );
            println!("watch it with: SELECT * FROM system.sources");
            return Ok(ExitCode::SUCCESS);
        }
        if state == "retrying" {
            let since = *failing_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(args.fail_after) {
                bar.abandon();
                eprintln!(
                    "ERROR:  source {} keeps failing: {}",
                    args.name,
                    error.unwrap_or_default()
                );
                eprintln!(
                    "it stays declared and retries; DROP SOURCE {} to remove it",
                    args.name
                );
                return Ok(ExitCode::FAILURE);
            }
        } else {
            failing_since = None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests;
