-- Every plan version loaded by `costline plans load`, as its JSON body.
SELECT body FROM plans FINAL ORDER BY plan, version
