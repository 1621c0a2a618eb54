{{ config(partition_by=['country']) }}

select
    c.customer_id,
    c.name,
    coalesce(t.order_count, 0) as order_count,
    coalesce(t.revenue, 0) as revenue,
    {{ glue_shop_utils.safe_divide('t.revenue', 't.order_count') }} as avg_order_value,
    c.country
from {{ ref('stg_customers') }} c
left join {{ ref('order_totals') }} t on c.customer_id = t.customer_id
