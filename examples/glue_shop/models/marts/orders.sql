{{ config(
    materialized='incremental',
    file_format=var('lakehouse_format', 'delta'),
    incremental_strategy=var('orders_strategy', 'merge'),
    unique_key='order_id'
) }}

select order_id, customer_id, order_date, amount, status, updated_at
from {{ ref('stg_orders') }}
{% if is_incremental() %}
where updated_at > (select max(updated_at) from {{ this }})
{% endif %}
