//! ALTER TABLE as Iceberg schema evolution: columns keep their field ids,
//! so files written before the change keep reading correctly.

use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{
    AlterColumnOperation, AlterTable, AlterTableOperation, ColumnOption,
};
use floe_storage::StorageError;
use floe_storage::iceberg::spec::{NestedField, PrimitiveType, Schema, Type};

use crate::engine::Engine;
use crate::error::{QueryError, unsupported};
use crate::{names, types};

/// Applies every operation of one ALTER TABLE as one new schema.
pub async fn execute(engine: &Engine, alter: AlterTable) -> Result<(), QueryError> {
    let (schema_name, table_name) = names::table(&alter.name)?;
    let qualified = format!("{schema_name}.{table_name}");
    let handle = match engine.table_handle(&schema_name, &table_name) {
        Ok(handle) => handle,
        Err(QueryError::NoSuchTable { .. }) if alter.if_exists => return Ok(()),
        Err(e) => return Err(e),
    };
    let change = handle.begin().await?;
    let metadata = change.base().metadata().clone();
    let current = metadata.current_schema();
    let mut fields: Vec<NestedField> = current
        .as_struct()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut next_id = metadata.last_column_id() + 1;
    // Column defaults set or dropped ([`crate::defaults`]).
    let mut properties: Vec<(String, String)> = Vec::new();
    let invalid = |reason: String| {
        QueryError::Storage(StorageError::InvalidAlter {
            table: qualified.clone(),
            reason,
        })
    };
    let position = |fields: &[NestedField], name: &str| fields.iter().position(|f| f.name == name);
    // Columns the table's layout depends on cannot be dropped.
    let mut pinned: Vec<i32> = current.identifier_field_ids().collect();
    pinned.extend(
        metadata
            .default_partition_spec()
            .fields()
            .iter()
            .map(|f| f.source_id),
    );
    pinned.extend(
        metadata
            .default_sort_order()
            .fields
            .iter()
            .map(|f| f.source_id),
    );

    for op in alter.operations {
        match op {
            AlterTableOperation::AddColumn {
                column_def,
                if_not_exists,
                ..
            } => {
                let name = names::ident(&column_def.name);
                if position(&fields, &name).is_some() {
                    if if_not_exists {
                        continue;
                    }
                    return Err(invalid(format!("column \"{name}\" already exists")));
                }
                for option in &column_def.options {
                    match &option.option {
                        ColumnOption::Null => {}
                        ColumnOption::NotNull => {
                            return Err(invalid(format!(
                                "cannot add NOT NULL column \"{name}\": existing rows have no value for it"
                            )));
                        }
                        other => {
                            return Err(unsupported(&format!("ADD COLUMN with {other}")));
                        }
                    }
                }
                let ty = types::iceberg_type(&name, &column_def.data_type)?;
                let id = next_id;
                next_id += 1;
                let ty = types::number_nested(&ty, &mut next_id);
                let mut field = NestedField::optional(id, name, ty);
                field.doc = types::column_doc(&column_def.data_type).map(str::to_string);
                fields.push(field);
            }
            AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                ..
            } => {
                for column in &column_names {
                    let name = names::ident(column);
                    let Some(i) = position(&fields, &name) else {
                        if if_exists {
                            continue;
                        }
                        return Err(QueryError::NoSuchColumn {
                            table: qualified.clone(),
                            column: name,
                        });
                    };
                    if pinned.contains(&fields[i].id) {
                        return Err(invalid(format!(
                            "column \"{name}\" is part of the primary key, partitioning or sort order"
                        )));
                    }
                    if fields.len() == 1 {
                        return Err(invalid(format!("cannot drop \"{name}\", the only column")));
                    }
                    fields.remove(i);
                }
            }
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let old = names::ident(&old_column_name);
                let new = names::ident(&new_column_name);
                let Some(i) = position(&fields, &old) else {
                    return Err(QueryError::NoSuchColumn {
                        table: qualified.clone(),
                        column: old,
                    });
                };
                if position(&fields, &new).is_some() {
                    return Err(invalid(format!("column \"{new}\" already exists")));
                }
                fields[i].name = new;
            }
            AlterTableOperation::AlterColumn { column_name, op } => {
                let name = names::ident(&column_name);
                let Some(i) = position(&fields, &name) else {
                    return Err(QueryError::NoSuchColumn {
                        table: qualified.clone(),
                        column: name,
                    });
                };
                match op {
                    AlterColumnOperation::SetDataType {
                        data_type, using, ..
                    } => {
                        if using.is_some() {
                            return Err(unsupported("ALTER COLUMN TYPE ... USING"));
                        }
                        let to = types::iceberg_type(&name, &data_type)?;
                        let from = fields[i].field_type.as_ref().clone();
                        if !widens(&from, &to) {
                            return Err(invalid(format!(
                                "column \"{name}\" cannot change from {from} to {to}; only widening (int to bigint, real to double precision, a larger decimal precision with the same scale) keeps existing files readable"
                            )));
                        }
                        let doc = types::column_doc(&data_type).map(str::to_string);
                        if doc.is_some() && fields[i].doc != doc {
                            return Err(invalid(format!(
                                "column \"{name}\" cannot change to {data_type}: existing values are not checked against its range"
                            )));
                        }
                        // Its stored text is not the text of its values.
                        let interval = Some(floe_storage::interval_text::INTERVAL_DOC);
                        if fields[i].doc.as_deref() == interval && doc.as_deref() != interval {
                            return Err(invalid(format!(
                                "column \"{name}\" cannot change from interval to {data_type}"
                            )));
                        }
                        *fields[i].field_type = to;
                        fields[i].doc = doc;
                    }
                    AlterColumnOperation::SetDefault { value } => {
                        let logical = crate::uuid::logical_schema(&handle.arrow_schema()?);
                        let ty = logical.field_with_name(&name)?.data_type().clone();
                        let text = crate::defaults::check(engine, &name, &ty, &value).await?;
                        properties.push((crate::defaults::property(fields[i].id), text));
                    }
                    AlterColumnOperation::DropDefault => {
                        properties.push((crate::defaults::property(fields[i].id), String::new()));
                    }
                    AlterColumnOperation::DropNotNull => {
                        if pinned.contains(&fields[i].id) {
                            return Err(invalid(format!(
                                "column \"{name}\" is part of the primary key, partitioning or sort order"
                            )));
                        }
                        fields[i].required = false;
                    }
                    other => return Err(unsupported(&format!("ALTER COLUMN {other}"))),
                }
            }
            other => return Err(unsupported(&format!("ALTER TABLE {other}"))),
        }
    }

    let schema = Schema::builder()
        .with_schema_id(current.schema_id())
        .with_fields(fields.into_iter().map(Arc::new))
        .with_identifier_field_ids(current.identifier_field_ids())
        .build()
        .map_err(|e| invalid(e.message().to_string()))?;
    let properties: Vec<(&str, String)> = properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    change.commit_schema(schema, &properties).await?;
    Ok(())
}

/// Whether Iceberg allows promoting a column from `from` to `to`.
fn widens(from: &Type, to: &Type) -> bool {
    use PrimitiveType::*;
    let (Type::Primitive(from), Type::Primitive(to)) = (from, to) else {
        return false;
    };
    match (from, to) {
        (a, b) if a == b => true,
        (Int, Long) | (Float, Double) => true,
        (
            Decimal {
                precision: p1,
                scale: s1,
            },
            Decimal {
                precision: p2,
                scale: s2,
            },
        ) => s1 == s2 && p2 >= p1,
        _ => false,
    }
}
