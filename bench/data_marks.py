"""invalid_ranges over a year: 200 sites, 1,000 devices, 5,000 points, 1,000 random marks (a third each on
points, devices and sites, a fifth valid again); each path timed for 1 to 5,000 points asked.

Run: .venv/bin/python bench/data_marks.py (see docs/benchmarks.md, data audit)."""
import tempfile, pathlib, time, random
from forewarn.store.sqlite import SqliteStore
from forewarn.catalogue import Catalogue
from forewarn.store import audit_marks
from forewarn.store.audit_marks import invalid_ranges
d=tempfile.mkdtemp(); s=SqliteStore(pathlib.Path(d)/"x.db", Catalogue()); db=s.db
db.execute("INSERT INTO regions (code,name) VALUES ('451202','x')"); db.execute("INSERT INTO enterprises (id,name,region_code) VALUES (1,'e','451202')")
for site in range(1,201):
    db.execute("INSERT INTO sites (id,enterprise_id,name,site_type,region_code) VALUES (?,1,?,'factory','451202')",(site,str(site)))
    for dv in range(5):
        did=site*10+dv
        db.execute("INSERT INTO devices (id,mn,site_id,registered_ms) VALUES (?,?,?,0)",(did,f"MN{did}",site))
        for p in range(5):
            db.execute("INSERT INTO points (device_id,code,field,created_ms) VALUES (?,?,'Rtd',0)",(did,f"c{p}"))
random.seed(1)
for i in range(1000):
    t=random.choice(['point','device','site']); tid={'point':random.randint(1,5000),'device':random.randint(1,200)*10+random.randint(0,4),'site':random.randint(1,200)}[t]
    a=random.randint(0,365*86400000)
    db.execute("INSERT INTO data_marks (target,target_id,site_id,start_ms,end_ms,valid,reason,actor,origin,created_ms) VALUES (?,?,1,?,?,?,'fault','x','x',0)",(t,tid,a,a+random.randint(1,30*86400000),random.random()<0.2))
db.commit()
Y=365*86400000
for n in (1, 100, 1000, 5000):
    pts=list(range(1,n+1))
    for limit in (0, 10**6):
        audit_marks._FROM_POINTS_MAX=limit
        t0=time.perf_counter(); r=invalid_ranges(db,pts,0,Y); t1=time.perf_counter()
        print(n, "from points" if limit else "from marks", len(r), f"{(t1-t0)*1000:.1f} ms")
