use std::collections::HashMap;

use super::*;

#[test]
fn constraints_round_trip_through_the_property() {
    let constraints = vec![
        UniqueConstraint {
            name: "t_a_key".into(),
            fields: vec![1],
            nulls_distinct: true,
        },
        UniqueConstraint {
            name: "t_b_c_key".into(),
            fields: vec![2, 3],
            nulls_distinct: false,
        },
    ];
    let properties = HashMap::from([(UNIQUE_PROPERTY.to_string(), encode(&constraints))]);
    assert_eq!(declared(&properties), constraints);
}

#[test]
fn nulls_distinct_is_the_default() {
    let properties = HashMap::from([(
        UNIQUE_PROPERTY.to_string(),
        r#"[{"name":"t_a_key","fields":[1]}]"#.to_string(),
    )]);
    assert!(declared(&properties)[0].nulls_distinct);
    assert!(declared(&HashMap::new()).is_empty());
}

mod writes {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::store::tests::{definition, rows};
    use crate::{StorageError, Store, TableHandle};

    async fn keyed(dir: &std::path::Path) -> (Arc<Store>, Arc<TableHandle>) {
        let store = Store::open(dir, "public").await.unwrap();
        let t = store
            .create_table("public", "t", definition(), false)
            .await
            .unwrap()
            .unwrap();
        (store, t)
    }

    fn is_violation(e: &StorageError, key: &str) -> bool {
        matches!(e, StorageError::UniqueViolation { constraint, key: k, .. }
            if constraint == "t_pkey" && k == key)
    }

    #[tokio::test]
    async fn a_key_is_refused_whether_buffered_committed_or_repeated() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, t) = keyed(dir.path()).await;
        t.append_buffered(&[rows(&t, &[1, 2], Some("a"))])
            .await
            .unwrap();
        // Against the buffer.
        let e = t
            .append_buffered(&[rows(&t, &[3, 2], Some("b"))])
            .await
            .unwrap_err();
        assert!(is_violation(&e, "(id)=(2)"), "{e}");
        // Against committed files.
        t.flush().await.unwrap();
        assert_eq!(t.buffer_stats().rows, 0);
        let e = t
            .append_buffered(&[rows(&t, &[1], Some("c"))])
            .await
            .unwrap_err();
        assert!(is_violation(&e, "(id)=(1)"), "{e}");
        // Within the rows written.
        let e = t
            .append_buffered(&[rows(&t, &[5, 6, 5], Some("d"))])
            .await
            .unwrap_err();
        assert!(is_violation(&e, "(id)=(5)"), "{e}");
        // The direct path checks at its commit.
        let mut append = t.append().unwrap();
        append.write(rows(&t, &[7, 2], Some("e"))).await.unwrap();
        let e = append.commit().await.unwrap_err();
        assert!(is_violation(&e, "(id)=(2)"), "{e}");
        // Nothing of the refused writes is there.
        assert_eq!(
            crate::store::tests::live_rows(&t).await,
            vec![(1, "a1".to_string()), (2, "a2".to_string())]
        );
    }

    #[tokio::test]
    async fn an_append_to_a_keyed_table_waits_for_its_open_change() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, t) = keyed(dir.path()).await;
        let change = t.begin().await.unwrap();
        let mut append = change.append_checked().unwrap();
        append.write(rows(&t, &[1], Some("change"))).await.unwrap();
        let writer = {
            let t = t.clone();
            tokio::spawn(async move { t.append_buffered(&[rows(&t, &[1], Some("append"))]).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !writer.is_finished(),
            "the append did not wait for the change"
        );
        change.commit_rows(Some(append), Vec::new()).await.unwrap();
        let e = writer.await.unwrap().unwrap_err();
        assert!(is_violation(&e, "(id)=(1)"), "{e}");
    }
}
