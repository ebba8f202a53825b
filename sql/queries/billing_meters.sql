-- Every meter loaded by `costline plans load`, as its JSON body.
SELECT body FROM meters FINAL ORDER BY name
