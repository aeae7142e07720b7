// tagwall's three alert rules on its metrics in Application Insights (docs/TELEMETRY.md):
// no successful sync in 8 days, failed targets, rule budget over 90 %.
// A snippet to adapt: valid Bicep, but not deployed from this repository; try it with
// `az deployment group what-if --template-file docs/alerts.bicep` first.
// The queries read the classic Application Insights tables (customMetrics); against a
// workspace-based component's workspace, use AppMetrics (Name, Max, Sum, Properties).

@description('Resource ID of the Application Insights component tagwall sends to (APPLICATIONINSIGHTS_CONNECTION_STRING).')
param applicationInsightsId string

@description('Resource ID of the action group to notify.')
param actionGroupId string

param location string = resourceGroup().location

// The last successful sync is a gauge every tagwall process exports while it remembers one (each
// run exports it, and the Functions host every minute). A restarted instance forgets it until its
// next success, so the rule looks two days back: no success point at all there counts as none.
var noSuccessQuery = '''
customMetrics
| where name == 'tagwall.run.last_success_time' and tostring(customDimensions.operation) == 'sync'
| summarize lastSuccess = max(valueMax)
| extend lastSuccess = coalesce(lastSuccess, 0.0)
| where lastSuccess < datetime_diff('second', ago(8d), datetime(1970-01-01))
| project lastSuccess = unixtime_seconds_todatetime(lastSuccess)
'''

var failuresQuery = '''
customMetrics
| where name == 'tagwall.targets' and tostring(customDimensions.outcome) == 'failed'
| extend kind = tostring(customDimensions.kind), code = tostring(customDimensions.code)
| summarize failed = sum(valueSum) by kind, code
| where failed > 0
'''

// Which firewalls: the tagwall.target log events (traces) carry each one's budgetUse.
var budgetQuery = '''
customMetrics
| where name == 'tagwall.rule_budget.use'
| extend kind = tostring(customDimensions.kind)
| summarize highest = max(valueMax) by kind
| where highest > 0.9
'''

resource noSuccess 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'tagwall-no-successful-sync-8d'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: 'tagwall: no successful sync in 8 days'
    description: 'No tagwall sync without a failed target or run error for 8 days: service tags change weekly, so firewalls may be missing new ranges. See the run report or the tagwall.target events.'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'P2D'
    criteria: {
      allOf: [
        {
          query: noSuccessQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroupId
      ]
    }
  }
}

resource failures 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'tagwall-failed-targets'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: 'tagwall: targets failed'
    description: 'A tagwall run could not read or write a firewall (tagwall.targets, outcome failed); the code says why (README, Codes).'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: failuresQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'kind'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'code'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroupId
      ]
    }
  }
}

resource budget 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'tagwall-rule-budget-90'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: 'tagwall: rule budget over 90 %'
    description: 'A firewall tagwall planned holds more than 90 % of its rule limit (tagwall.rule_budget.use): the next service-tags change may need wider rules or be refused.'
    severity: 3
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT6H'
    criteria: {
      allOf: [
        {
          query: budgetQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'kind'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroupId
      ]
    }
  }
}

output ruleIds array = [
  noSuccess.id
  failures.id
  budget.id
]
