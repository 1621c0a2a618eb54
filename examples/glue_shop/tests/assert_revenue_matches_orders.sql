-- Revenue per day equals the sum of order amounts that day.
select d.order_date
from {{ ref('daily_revenue') }} d
join (select order_date, sum(amount) as total from {{ ref('orders') }} group by order_date) o
  on d.order_date = o.order_date
where d.revenue != o.total
