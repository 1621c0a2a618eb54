{#- Lake Formation (a Glue target only; off unless `--vars '{lake_formation: true}'`, since the LF-tags `domain` and
    `sensitivity` must exist in the account first): the table gets `domain=sales`, the column `name` gets
    `sensitivity=pii`, and the analyst role reads only customers with revenue over 100, without their names. -#}
{{ config(
    partition_by=['country'],
    lf_tags_config={
        'enabled': var('lake_formation', false),
        'tags_table': {'domain': 'sales'},
        'tags_columns': {'sensitivity': {'pii': ['name']}},
    },
    lf_grants={'data_cell_filters': {
        'enabled': var('lake_formation', false),
        'drop_existing': true,
        'filters': {'high_value_customers': {
            'row_filter': 'revenue > 100',
            'principals': [var('lf_analyst_arn', 'arn:aws:iam::123456789012:role/analyst')],
            'excluded_column_names': ['name'],
        }},
    }},
) }}

select
    c.customer_id,
    c.name,
    coalesce(t.order_count, 0) as order_count,
    coalesce(t.revenue, 0) as revenue,
    {{ glue_shop_utils.safe_divide('t.revenue', 't.order_count') }} as avg_order_value,
    c.country
from {{ ref('stg_customers') }} c
left join {{ ref('order_totals') }} t on c.customer_id = t.customer_id
