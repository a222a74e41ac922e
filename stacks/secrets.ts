/**
 * Set once per stage before the first deploy:
 *   npx sst secret set WorkerToken "$(openssl rand -hex 32)" --stage prod
 *   npx sst secret set AriPassword "$(openssl rand -hex 16)" --stage prod
 *   npx sst secret set SipTrunkHost sip.carrier.example:5060 --stage prod   (and SipTrunkUser, SipTrunkPassword)
 * The dialer sends WorkerToken with every dial command; the worker refuses requests without it.
 */
export const workerToken = new sst.Secret('WorkerToken')
export const ariPassword = new sst.Secret('AriPassword')

/** The SIP trunk Asterisk registers with: host[:port], user and password from the carrier. */
export const sipTrunkHost = new sst.Secret('SipTrunkHost')
export const sipTrunkUser = new sst.Secret('SipTrunkUser')
export const sipTrunkPassword = new sst.Secret('SipTrunkPassword')

/**
 * ECS injects these into the containers at start (`ssm` on the container): the task definition
 * holds only the parameter ARNs, so DescribeTaskDefinition never shows a secret. SecureString,
 * encrypted with the account's SSM key; the task's execution role may read exactly these.
 */
function secureParameter(id: string, secret: sst.Secret): aws.ssm.Parameter {
  return new aws.ssm.Parameter(`${id}Parameter`, {
    name: `/dialctl/${$app.stage}/secrets/${id}`,
    type: 'SecureString',
    value: secret.value,
  })
}
export const secretParameters = {
  workerToken: secureParameter('WorkerToken', workerToken),
  ariPassword: secureParameter('AriPassword', ariPassword),
  sipTrunkPassword: secureParameter('SipTrunkPassword', sipTrunkPassword),
}
