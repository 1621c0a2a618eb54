select
    order_id,
    customer_id,
    order_date,
    amount,
    lower(status) as status,
    updated_at
from {{ source('raw', 'raw_orders') }}
where amount >= {{ var('min_order_amount') }}
