{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['order_date']
) }}

{%- set since = latest_partition(this, 'order_date') if is_incremental() else none %}

select
    sum(amount) as revenue,
    count(*) as orders,
    order_date
from {{ ref('stg_orders') }}
{% if since is not none %}
where order_date >= '{{ since }}'
{% endif %}
group by order_date
