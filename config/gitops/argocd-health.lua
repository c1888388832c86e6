-- Argo CD health check of a SignerPolicy (policy.signerpolicy.dev). Argo CD runs it with the live
-- object in `obj`; see docs/gitops.md for how to install it.
--   Healthy      Ready is True for the policy's current generation: the policy is in force.
--   Progressing  the operator has not reported on this generation yet, or the policy waits for
--                something that may still come: its issuer (IssuerNotFound), or RBAC it retries.
--   Degraded     the policy cannot come into force until it or its issuer is changed.
-- SignerShared and ApproversNamed only inform (status.otherPolicies, approvers) and never change
-- the health.
local hs = { status = "Progressing", message = "Waiting for the operator to report on this SignerPolicy" }

local permanent = { InvalidPolicy = true, UnsupportedIssuerType = true, TooManyIssuers = true }

if obj.status == nil or obj.status.observedGeneration == nil then
  return hs
end
local generation = obj.metadata.generation or 0
if obj.status.observedGeneration < generation then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
for _, c in ipairs(obj.status.conditions or {}) do
  if c.type == "Ready" then
    if c.status == "True" then
      hs.status = "Healthy"
    elseif c.status == "False" and permanent[c.reason] then
      hs.status = "Degraded"
    end
    hs.message = (c.reason or "") .. ": " .. (c.message or "")
    return hs
  end
end
return hs
