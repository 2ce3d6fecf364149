import json
import pytest
from civicloop.metrics.tests.test_metric_pages import metrics, _url, RATIO_ID, COUNT_ID  # noqa

pytestmark = pytest.mark.django_db

def test_explore(metrics, client_as):
    c = client_as("lead")
    r = c.get(_url("metric_detail"))
    open("/tmp/explore/page.html", "w").write(r.content.decode())
    d = c.get(_url("metric_detail_json")).json()
    json.dump(d, open("/tmp/explore/count.json", "w"), indent=1)
    d = c.get(_url("metric_detail_json", RATIO_ID)).json()
    json.dump(d, open("/tmp/explore/ratio.json", "w"), indent=1)
    open("/tmp/explore/count.csv", "w").write(c.get(_url("metric_detail_csv")).content.decode())
    open("/tmp/explore/list.html", "w").write(c.get("/metrics/").content.decode())
    open("/tmp/explore/list.csv", "w").write(c.get("/metrics.csv").content.decode())
    open("/tmp/explore/team.html", "w").write(c.get("/teams/team-clean/").content.decode())
