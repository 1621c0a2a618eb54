{% snapshot orders_snapshot %}
{{ config(
    schema='snapshots',
    file_format=var('lakehouse_format', 'delta'),
    unique_key='order_id',
    strategy='timestamp',
    updated_at='updated_at'
) }}
select order_id, customer_id, status, amount, updated_at from {{ ref('stg_orders') }}
{% endsnapshot %}
