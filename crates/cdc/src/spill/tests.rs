use super::*;
use crate::pgoutput::RelColumn;

fn relation(id: u32) -> Arc<Relation> {
    Arc::new(Relation {
        id,
        namespace: "public".into(),
        name: format!("t{id}"),
        replica_identity: b'd',
        columns: vec![RelColumn {
            key: true,
            name: "id".into(),
            type_oid: 20,
            type_mod: -1,
        }],
    })
}

fn text(v: &str) -> Value {
    Value::Text(v.into())
}

#[test]
fn changes_come_back_in_order_and_the_file_goes_away() {
    let root = tempfile::tempdir().unwrap();
    let (r1, r2) = (relation(1), relation(2));
    let mut w = SpillWriter::create(root.path(), "shop", 7).unwrap();
    w.write(
        "public.t1",
        &Op::Upsert {
            relation: r1.clone(),
            old: None,
            new: vec![text("1"), Value::Null, text("ünï\ttab")],
        },
    )
    .unwrap();
    w.write(
        "public.t2",
        &Op::Upsert {
            relation: r2.clone(),
            old: Some(vec![text("9")]),
            new: vec![text("10"), Value::Unchanged],
        },
    )
    .unwrap();
    w.write("public.t1", &Op::Truncate).unwrap();
    w.write(
        "public.t2",
        &Op::Delete {
            relation: r2.clone(),
            old: vec![text("10")],
        },
    )
    .unwrap();
    let spilled = w.finish().unwrap();
    assert_eq!(spilled.count, 4);
    assert_eq!(
        spilled.tables().collect::<Vec<_>>(),
        vec!["public.t1", "public.t2"]
    );
    let mut read = spilled.read().unwrap();
    let mut got = Vec::new();
    while let Some((table, op)) = read.next().unwrap() {
        got.push((table.to_string(), format!("{op:?}")));
    }
    drop(read);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].0, "public.t1");
    assert!(got[0].1.contains("ünï\\ttab") && got[0].1.contains("Null"));
    assert!(got[1].1.contains("Unchanged") && got[1].1.contains("Some"));
    assert!(got[2].1.contains("Truncate"));
    assert!(got[3].1.starts_with("Delete"));
    let files = || std::fs::read_dir(dir(root.path())).unwrap().count();
    assert_eq!(files(), 1);
    drop(spilled);
    assert_eq!(files(), 0);
}

#[test]
fn forgotten_tables_are_skipped_and_abandoned_files_removed() {
    let root = tempfile::tempdir().unwrap();
    let r = relation(1);
    let op = || Op::Upsert {
        relation: r.clone(),
        old: None,
        new: vec![text("1")],
    };
    let mut w = SpillWriter::create(root.path(), "shop", 1).unwrap();
    w.write("public.a", &op()).unwrap();
    w.write("public.b", &op()).unwrap();
    w.forget("public.a");
    w.write("public.a", &op()).unwrap();
    let spilled = w.finish().unwrap();
    let mut read = spilled.read().unwrap();
    let mut tables = Vec::new();
    while let Some((table, _)) = read.next().unwrap() {
        tables.push(table.to_string());
    }
    // What was written before is dropped; later changes count again.
    assert_eq!(tables, vec!["public.b", "public.a"]);
    drop(read);
    drop(spilled);

    let w = SpillWriter::create(root.path(), "shop", 2).unwrap();
    drop(w);
    std::fs::write(dir(root.path()).join("shop.3.ops"), b"left by a crash").unwrap();
    std::fs::write(dir(root.path()).join("other.3.ops"), b"another source's").unwrap();
    clean(root.path(), "shop");
    let left: Vec<_> = std::fs::read_dir(dir(root.path()))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["other.3.ops"]);
}
