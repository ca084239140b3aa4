//! CREATE TABLE: columns, primary key, PARTITION BY and ORDER BY as Iceberg
//! schema, partition spec and sort order.

use std::collections::HashMap;

use arrow::datatypes::{DataType, Schema as ArrowSchema};
use datafusion::sql::sqlparser::ast::{
    ColumnOption, CreateTable, CreateTableOptions, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, NullsDistinctOption, OneOrManyWithParens, SqlOption, TableConstraint,
    UniqueConstraint, Value,
};
use floe_storage::TableDefinition;
use floe_storage::iceberg::spec::{
    NestedField, NullOrder, PrimitiveType, Schema, SortDirection, SortField, SortOrder, Transform,
    Type, UnboundPartitionSpec,
};

use crate::error::QueryError;
use crate::names;
use crate::types::iceberg_type;

/// The column names a table constraint lists.
fn constraint_columns(
    clause: &'static str,
    columns: &[datafusion::sql::sqlparser::ast::IndexColumn],
) -> Result<Vec<String>, QueryError> {
    columns
        .iter()
        .map(|col| match &col.column.expr {
            Expr::Identifier(ident) => Ok(names::ident(ident)),
            _ => Err(QueryError::InvalidLayout {
                clause,
                item: col.column.to_string(),
                reason: "must be a column name".into(),
            }),
        })
        .collect()
}

/// A UNIQUE constraint before field ids are assigned.
struct Unique {
    name: Option<String>,
    columns: Vec<String>,
    nulls_distinct: bool,
}

impl Unique {
    /// A UNIQUE constraint of a column (`columns` empty) or of the table.
    fn from_sql(
        c: &UniqueConstraint,
        name: Option<&datafusion::sql::sqlparser::ast::Ident>,
        column: Option<&str>,
    ) -> Result<Unique, QueryError> {
        let mut columns: Vec<String> = column.map(str::to_string).into_iter().collect();
        columns.extend(constraint_columns("UNIQUE", &c.columns)?);
        Ok(Unique {
            name: name.or(c.name.as_ref()).map(names::ident),
            columns,
            nulls_distinct: !matches!(c.nulls_distinct, NullsDistinctOption::NotDistinct),
        })
    }
}

/// A column before field ids are assigned.
struct Column {
    name: String,
    ty: Type,
    not_null: bool,
    doc: Option<&'static str>,
}

/// The table definition a CREATE TABLE with a column list describes
/// (without the columns' defaults: see [`crate::defaults::declare`]).
pub fn from_columns(ct: &CreateTable) -> Result<TableDefinition, QueryError> {
    let table = names::table(&ct.name)?.1;
    let mut columns = Vec::new();
    let mut key: Vec<String> = Vec::new();
    let mut unique: Vec<Unique> = Vec::new();
    for c in &ct.columns {
        let name = names::ident(&c.name);
        if columns.iter().any(|x: &Column| x.name == name) {
            return Err(QueryError::InvalidColumnType {
                column: name,
                ty: c.data_type.to_string(),
                reason: "column specified more than once".into(),
            });
        }
        let mut not_null = false;
        for opt in &c.options {
            match &opt.option {
                ColumnOption::NotNull => not_null = true,
                ColumnOption::Null => not_null = false,
                ColumnOption::PrimaryKey(_) => key.push(name.clone()),
                ColumnOption::Default(_) => {}
                ColumnOption::Unique(u) => {
                    unique.push(Unique::from_sql(u, opt.name.as_ref(), Some(&name))?);
                }
                ColumnOption::Check(_) | ColumnOption::ForeignKey(_) => {
                    return Err(QueryError::Unsupported {
                        feature: format!("column constraint `{}` on column \"{name}\"", opt.option),
                    });
                }
                _ => {}
            }
        }
        let ty = iceberg_type(&name, &c.data_type)?;
        columns.push(Column {
            name,
            ty,
            not_null,
            doc: crate::types::column_doc(&c.data_type),
        });
    }
    for constraint in &ct.constraints {
        match constraint {
            TableConstraint::PrimaryKey(pk) => {
                key.extend(constraint_columns("PRIMARY KEY", &pk.columns)?);
            }
            TableConstraint::Unique(u) => unique.push(Unique::from_sql(u, None, None)?),
            other => {
                return Err(QueryError::Unsupported {
                    feature: format!("table constraint `{other}`"),
                });
            }
        }
    }
    build(&table, columns, &key, &unique, ct)
}

/// PostgreSQL's name for an unnamed UNIQUE constraint:
/// `<table>_<columns>_key`, numbered when taken.
fn default_unique_name(
    table: &str,
    columns: &[String],
    taken: &[floe_storage::unique::UniqueConstraint],
) -> String {
    let base = format!("{table}_{}_key", columns.join("_"));
    let mut name = base.clone();
    let mut n = 0;
    while taken.iter().any(|c| c.name == name) || name == format!("{table}_pkey") {
        n += 1;
        name = format!("{base}{n}");
    }
    name
}

/// The table definition for CREATE TABLE AS: columns come from the query.
pub fn from_query(ct: &CreateTable, schema: &ArrowSchema) -> Result<TableDefinition, QueryError> {
    let table = names::table(&ct.name)?.1;
    let mut columns = Vec::new();
    for f in schema.fields() {
        columns.push(Column {
            name: f.name().clone(),
            ty: type_from_arrow(f.name(), f.data_type())?,
            not_null: false,
            doc: crate::types::arrow_column_doc(f.data_type()),
        });
    }
    build(&table, columns, &[], &[], ct)
}

fn build(
    table: &str,
    columns: Vec<Column>,
    key: &[String],
    unique: &[Unique],
    ct: &CreateTable,
) -> Result<TableDefinition, QueryError> {
    let invalid = |reason: String| {
        QueryError::Storage(floe_storage::StorageError::InvalidDefinition {
            table: table.to_string(),
            reason,
        })
    };
    let mut key_ids = Vec::new();
    for k in key {
        let Some(pos) = columns.iter().position(|c| &c.name == k) else {
            return Err(QueryError::NoSuchColumn {
                table: table.to_string(),
                column: k.clone(),
            });
        };
        if !key_ids.contains(&(pos as i32 + 1)) {
            key_ids.push(pos as i32 + 1);
        }
    }
    // An interval is stored as its text, and two texts of one interval
    // ('1 mon', '30 days') differ: a key over it would hold both.
    let keyed = key
        .iter()
        .chain(unique.iter().flat_map(|u| u.columns.iter()));
    for k in keyed {
        if let Some(c) = columns.iter().find(|c| &c.name == k)
            && c.doc == Some(floe_storage::interval_text::INTERVAL_DOC)
        {
            return Err(QueryError::Unsupported {
                feature: format!("a primary key or UNIQUE constraint on interval column \"{k}\""),
            });
        }
    }
    // Top-level fields take the first ids; fields nested in them (array
    // elements) the ones after.
    let mut nested_id = columns.len() as i32 + 1;
    let fields = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let id = i as i32 + 1;
            let required = c.not_null || key_ids.contains(&id);
            let ty = crate::types::number_nested(&c.ty, &mut nested_id);
            let field = NestedField::new(id, c.name.clone(), ty, required);
            match c.doc {
                Some(doc) => field.with_doc(doc).into(),
                None => field.into(),
            }
        })
        .collect::<Vec<_>>();
    let schema = Schema::builder()
        .with_schema_id(0)
        .with_fields(fields)
        .with_identifier_field_ids(key_ids)
        .build()
        .map_err(|e| invalid(e.message().to_string()))?;
    let field_id = |clause: &'static str, item: &Expr, name: &str| {
        schema
            .field_by_name(name)
            .map(|f| f.id)
            .ok_or_else(|| QueryError::InvalidLayout {
                clause,
                item: item.to_string(),
                reason: format!("column \"{name}\" does not exist"),
            })
    };

    let partition_spec = match &ct.partition_by {
        None => None,
        Some(expr) => {
            let items: Vec<&Expr> = match expr.as_ref() {
                Expr::Tuple(items) => items.iter().collect(),
                Expr::Nested(inner) => vec![inner.as_ref()],
                other => vec![other],
            };
            let mut builder = UnboundPartitionSpec::builder();
            for item in items {
                let (transform, column) = partition_item(item)?;
                let source_id = field_id("PARTITION BY", item, &column)?;
                let field_name = match transform {
                    Transform::Identity => column.clone(),
                    Transform::Bucket(_) => format!("{column}_bucket"),
                    Transform::Truncate(_) => format!("{column}_trunc"),
                    other => format!("{column}_{other}"),
                };
                builder = builder
                    .add_partition_field(source_id, field_name, transform)
                    .map_err(|e| QueryError::InvalidLayout {
                        clause: "PARTITION BY",
                        item: item.to_string(),
                        reason: e.message().to_string(),
                    })?;
            }
            let spec = builder.build();
            spec.clone()
                .bind(schema.clone())
                .map_err(|e| QueryError::InvalidLayout {
                    clause: "PARTITION BY",
                    item: expr.to_string(),
                    reason: e.message().to_string(),
                })?;
            Some(spec)
        }
    };

    let sort_order =
        match &ct.order_by {
            None => None,
            Some(order) => {
                let items: Vec<&Expr> = match order {
                    OneOrManyWithParens::One(e) => vec![e],
                    OneOrManyWithParens::Many(v) => v.iter().collect(),
                };
                let mut builder = SortOrder::builder();
                for item in items {
                    let Expr::Identifier(ident) = item else {
                        return Err(QueryError::InvalidLayout {
                            clause: "ORDER BY",
                            item: item.to_string(),
                            reason: "must be a column name".into(),
                        });
                    };
                    let source_id = field_id("ORDER BY", item, &names::ident(ident))?;
                    builder.with_sort_field(
                        SortField::builder()
                            .source_id(source_id)
                            .transform(Transform::Identity)
                            .direction(SortDirection::Ascending)
                            .null_order(NullOrder::First)
                            .build(),
                    );
                }
                let order = builder.with_order_id(1).build(&schema).map_err(|e| {
                    QueryError::InvalidLayout {
                        clause: "ORDER BY",
                        item: order.to_string(),
                        reason: e.message().to_string(),
                    }
                })?;
                Some(order)
            }
        };

    let mut properties = HashMap::new();
    if let CreateTableOptions::With(options) = &ct.table_options {
        for option in options {
            let SqlOption::KeyValue { key, value } = option else {
                return Err(QueryError::InvalidOption {
                    option: option.to_string(),
                    reason: "expected key = 'value'".into(),
                });
            };
            let value = match value {
                Expr::Value(v) => match &v.value {
                    Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                },
                other => other.to_string(),
            };
            if crate::defaults::is_property(&key.value) {
                return Err(QueryError::InvalidOption {
                    option: option.to_string(),
                    reason: "column defaults are declared with DEFAULT in the column list".into(),
                });
            }
            if key.value == floe_storage::unique::UNIQUE_PROPERTY {
                return Err(QueryError::InvalidOption {
                    option: option.to_string(),
                    reason: "UNIQUE constraints are declared with UNIQUE in the column list".into(),
                });
            }
            if let Err(reason) = floe_storage::check_property(&key.value, &value) {
                return Err(QueryError::InvalidOption {
                    option: option.to_string(),
                    reason,
                });
            }
            properties.insert(key.value.clone(), value);
        }
    }
    if !unique.is_empty() {
        let mut constraints: Vec<floe_storage::unique::UniqueConstraint> = Vec::new();
        for u in unique {
            let mut fields = Vec::new();
            for c in &u.columns {
                let Some(field) = schema.field_by_name(c) else {
                    return Err(QueryError::NoSuchColumn {
                        table: table.to_string(),
                        column: c.clone(),
                    });
                };
                fields.push(field.id);
            }
            let name = match &u.name {
                Some(name) => name.clone(),
                None => default_unique_name(table, &u.columns, &constraints),
            };
            constraints.push(floe_storage::unique::UniqueConstraint {
                name,
                fields,
                nulls_distinct: u.nulls_distinct,
            });
        }
        properties.insert(
            floe_storage::unique::UNIQUE_PROPERTY.to_string(),
            floe_storage::unique::encode(&constraints),
        );
    }

    Ok(TableDefinition {
        schema,
        partition_spec,
        sort_order,
        properties,
    })
}

/// One PARTITION BY item: `col`, `identity(col)`, `year|month|day|hour(col)`,
/// `bucket(n, col)` or `truncate(width, col)`.
fn partition_item(item: &Expr) -> Result<(Transform, String), QueryError> {
    let bad = |reason: &str| QueryError::InvalidLayout {
        clause: "PARTITION BY",
        item: item.to_string(),
        reason: reason.to_string(),
    };
    match item {
        Expr::Identifier(i) => Ok((Transform::Identity, names::ident(i))),
        Expr::Function(f) => {
            let name = f.name.to_string().to_lowercase();
            let FunctionArguments::List(list) = &f.args else {
                return Err(bad("expected arguments"));
            };
            let args: Vec<&Expr> = list
                .args
                .iter()
                .map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
                    _ => Err(bad("arguments must be a number and a column name")),
                })
                .collect::<Result<_, _>>()?;
            let column = |e: &Expr| match e {
                Expr::Identifier(i) => Ok(names::ident(i)),
                _ => Err(bad("the last argument must be a column name")),
            };
            let number = |e: &Expr| match e {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => n
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad("the width must be a positive integer")),
                    _ => Err(bad("the first argument must be a positive integer")),
                },
                _ => Err(bad("the first argument must be a positive integer")),
            };
            match (name.as_str(), args.as_slice()) {
                ("identity", [c]) => Ok((Transform::Identity, column(c)?)),
                ("year" | "years", [c]) => Ok((Transform::Year, column(c)?)),
                ("month" | "months", [c]) => Ok((Transform::Month, column(c)?)),
                ("day" | "days", [c]) => Ok((Transform::Day, column(c)?)),
                ("hour" | "hours", [c]) => Ok((Transform::Hour, column(c)?)),
                ("bucket", [n, c]) => Ok((Transform::Bucket(number(n)?), column(c)?)),
                ("truncate", [w, c]) => Ok((Transform::Truncate(number(w)?), column(c)?)),
                _ => Err(bad(
                    "expected a column, identity(col), year(col), month(col), day(col), hour(col), bucket(n, col) or truncate(width, col)",
                )),
            }
        }
        _ => Err(bad("expected a column name or a transform such as day(ts)")),
    }
}

/// The Iceberg type a query result column is stored as in CREATE TABLE AS:
/// a list of its element's type for an array (see
/// [`crate::types::iceberg_type`]).
pub fn type_from_arrow(column: &str, ty: &DataType) -> Result<Type, QueryError> {
    match ty {
        DataType::List(element) | DataType::LargeList(element) => {
            let element_type = type_from_arrow(column, element.data_type())?;
            let stored_apart = crate::types::arrow_column_doc(element.data_type()).is_some()
                || matches!(element_type, Type::Primitive(PrimitiveType::Uuid));
            if stored_apart {
                return Err(QueryError::InvalidColumnType {
                    column: column.to_string(),
                    ty: ty.to_string(),
                    reason: "arrays of this element type cannot be stored in a table".into(),
                });
            }
            Ok(crate::types::list_of(element_type))
        }
        other => Ok(Type::Primitive(primitive_from_arrow(column, other)?)),
    }
}

/// The Iceberg type a query result column of a primitive type is stored
/// as in CREATE TABLE AS.
pub fn primitive_from_arrow(column: &str, ty: &DataType) -> Result<PrimitiveType, QueryError> {
    use PrimitiveType as P;
    Ok(match ty {
        DataType::Boolean => P::Boolean,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            P::Int
        }
        DataType::Int64 | DataType::UInt32 => P::Long,
        DataType::UInt64 => P::Decimal {
            precision: 20,
            scale: 0,
        },
        DataType::Float16 | DataType::Float32 => P::Float,
        DataType::Float64 => P::Double,
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s)
            if *s >= 0 =>
        {
            P::Decimal {
                precision: u32::from(*p),
                scale: *s as u32,
            }
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => P::String,
        // Stored as text (see `floe_storage::interval_text`).
        DataType::Interval(_) => P::String,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => P::Binary,
        DataType::FixedSizeBinary(16) => P::Uuid,
        DataType::Date32 | DataType::Date64 => P::Date,
        DataType::Time32(_) | DataType::Time64(_) => P::Time,
        DataType::Timestamp(_, None) => P::Timestamp,
        DataType::Timestamp(_, Some(_)) => P::Timestamptz,
        DataType::Dictionary(_, value) => return primitive_from_arrow(column, value),
        other => {
            return Err(QueryError::InvalidColumnType {
                column: column.to_string(),
                ty: other.to_string(),
                reason: "query result type cannot be stored in a table".into(),
            });
        }
    })
}
